//! `pso-ceiling PORT`: a bare actix-web handler answering a fixed, status-sized
//! JSON body — the HTTP ceiling of this machine, loaded by the same tool with
//! the same connections as the register in the same benchmark run.

use actix_web::{App, HttpResponse, HttpServer, web};

const BODY: &str = r#"{"kvkNumber":"12345678","on":"2026-11-30T12:00:00Z","until":null,"levelMin":null,"certified":true,"status":"active","level":"trede_2","pso30plus":false,"certificateNumber":"PSO-2026-000042","certificationBody":"kiwa","validUntil":"2028-01-15","checkedAt":"2026-11-30T12:00:00.123456Z"}"#;

async fn answer() -> HttpResponse {
    HttpResponse::Ok()
        .content_type("application/json")
        .body(BODY)
}

#[actix_web::main]
async fn main() -> std::io::Result<()> {
    let port: u16 = std::env::args()
        .nth(1)
        .and_then(|p| p.parse().ok())
        .unwrap_or(18080);
    HttpServer::new(|| App::new().default_service(web::to(answer)))
        .bind(("127.0.0.1", port))?
        .run()
        .await
}
