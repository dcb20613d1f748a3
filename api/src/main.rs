//! `pso-registry`: the PSO register's server and tools.

use std::path::{Path, PathBuf};
use std::process::ExitCode;

use clap::{Parser, Subcommand};
use pso_api::cb_tool;
use pso_api::config::Config;
use pso_api::startup::Application;
use pso_api::telemetry;

#[derive(Debug, Parser)]
#[command(
    name = "pso-registry",
    version,
    about = "The public register of the Prestatieladder Socialer Ondernemen"
)]
struct Cli {
    #[command(subcommand)]
    command: Option<Command>,
}

#[derive(Debug, Subcommand)]
enum Command {
    /// Serve the register over HTTP (the default). Configured by environment
    /// variables: DATABASE_URL, BIND, REGISTRY_AUDIENCE, REGISTRY_ADMIN_TOKEN,
    /// REGISTRY_ORIGIN, REGISTRY_SIGNING_KEY_FILE, RUST_LOG (see README).
    Serve,
    /// Tools for certification bodies.
    #[command(subcommand)]
    Cb(CbCommand),
    /// Print the OpenAPI 3.1 document (what `make openapi` checks in).
    Openapi,
    /// Verify, offline, what the register signed: an answer, an entry's
    /// inclusion in a checkpoint, two checkpoints' consistency.
    #[command(subcommand)]
    Verify(VerifyCommand),
    /// Make the register's own signing key (Ed25519, PKCS#8 PEM, readable by
    /// its owner only) for REGISTRY_SIGNING_KEY_FILE; an existing file is not
    /// overwritten.
    SigningKey {
        /// Where to write it.
        #[arg(long)]
        out: PathBuf,
    },
    /// Fill a register with fictitious companies and certificates (every level
    /// and standing), through the lifecycle commands. Deterministic for a seed.
    Seed {
        /// How many companies (main applicants; subsidiaries come on top).
        #[arg(long)]
        companies: u64,
        #[arg(long, default_value_t = 1)]
        seed: u64,
        /// The database (default: DATABASE_URL, or the embedded SQLite file).
        #[arg(long)]
        database: Option<String>,
        /// The day the data is dated around (default: today).
        #[arg(long)]
        anchor: Option<chrono::NaiveDate>,
    },
}

#[derive(Debug, Subcommand)]
enum VerifyCommand {
    /// A signed answer (a compact JWS, as filed) against the register's key
    /// set (`/.well-known/jwks.json`, as saved); with --verifier-key, the
    /// checkpoint it names too.
    Answer {
        #[arg(long)]
        jwks: PathBuf,
        /// The log's verifier key (`/v1/log/verifier-key`), as text.
        #[arg(long)]
        verifier_key: Option<String>,
        /// The file holding the JWS.
        answer: PathBuf,
    },
    /// An entry's inclusion in the tree of a signed checkpoint.
    Inclusion {
        #[arg(long)]
        verifier_key: String,
        /// The signed checkpoint (`/v1/log/checkpoint`, as saved).
        #[arg(long)]
        checkpoint: PathBuf,
        /// The entry's bytes (`/v1/log/entries/{index}`, as saved).
        #[arg(long)]
        entry: PathBuf,
        /// The proof (`/v1/log/proof/inclusion`, as saved).
        #[arg(long)]
        proof: PathBuf,
    },
    /// That an older checkpoint's tree is a prefix of a newer one's.
    Consistency {
        #[arg(long)]
        verifier_key: String,
        #[arg(long)]
        old: PathBuf,
        #[arg(long)]
        new: PathBuf,
        /// The proof (`/v1/log/proof/consistency`, as saved).
        #[arg(long)]
        proof: PathBuf,
    },
}

#[derive(Debug, Subcommand)]
enum CbCommand {
    /// Make an Ed25519 key pair: the private key (PKCS#8 PEM) goes to --key-out,
    /// the public JWK (with its kid) to standard output.
    Keygen {
        /// Where to write the private key; an existing file is not overwritten.
        #[arg(long)]
        key_out: PathBuf,
    },
    /// Sign a request: prints a compact JWS to send as application/jose.
    Sign {
        /// The private key PEM (Ed25519 or P-256).
        #[arg(long)]
        key: PathBuf,
        /// Your certification body's id, as registered.
        #[arg(long)]
        iss: String,
        /// The register's audience (its REGISTRY_AUDIENCE).
        #[arg(long)]
        aud: String,
        /// issue, renew, suspend, reinstate or revoke.
        #[arg(long, value_parser = ["issue", "renew", "suspend", "reinstate", "revoke"])]
        act: String,
        /// The certificate number (every act but issue).
        #[arg(long)]
        sub: Option<String>,
        /// Seconds the request stays valid (at most 600).
        #[arg(long, default_value_t = 300, value_parser = clap::value_parser!(i64).range(1..=600))]
        ttl: i64,
        /// A JSON file with the act's payload: {"certificate": …}, {"period": …},
        /// or {"reason": …, "effectiveAt": …} (the contract's camelCase names).
        payload: PathBuf,
    },
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    match cli.command.unwrap_or(Command::Serve) {
        Command::Serve => serve(),
        Command::Seed {
            companies,
            seed,
            database,
            anchor,
        } => seed_register(companies, seed, database, anchor),
        Command::Openapi => {
            print!("{}", pso_api::openapi::document());
            ExitCode::SUCCESS
        }
        Command::Verify(command) => verify(command),
        Command::SigningKey { out } => match pso_api::signing::make_key(&out) {
            Ok(key) => {
                println!("{}", pso_api::signing::thumbprint(&key.verifying_key()));
                ExitCode::SUCCESS
            }
            Err(e) => fail(&e),
        },
        Command::Cb(CbCommand::Keygen { key_out }) => keygen(&key_out),
        Command::Cb(CbCommand::Sign {
            key,
            iss,
            aud,
            act,
            sub,
            ttl,
            payload,
        }) => {
            let envelope = cb_tool::Envelope {
                iss,
                aud,
                act,
                sub,
                ttl,
            };
            sign(&key, &envelope, &payload)
        }
    }
}

fn seed_register(
    companies: u64,
    seed: u64,
    database: Option<String>,
    anchor: Option<chrono::NaiveDate>,
) -> ExitCode {
    let config = match Config::from_env() {
        Ok(c) => c,
        Err(e) => return fail(&e),
    };
    let url = match database
        .map(|d| registry_core::DatabaseUrl::parse(&d))
        .transpose()
    {
        Ok(url) => url.unwrap_or(config.database_url),
        Err(e) => return fail(&e),
    };
    let options = registry_core::PoolOptions {
        max_size: 2,
        // A bulk load touches the indexes all over: keep them in memory.
        sqlite_cache_kib: Some(256 * 1024),
        ..Default::default()
    };
    let registry =
        match registry_core::Registry::open(&url, &options, registry_core::SchemeRules::pso()) {
            Ok(r) => r,
            Err(e) => return fail(&e),
        };
    let anchor = anchor.unwrap_or_else(|| registry_core::time::date_at(registry_core::time::now()));
    eprintln!("seeding {companies} companies into {url} (seed {seed}, anchor {anchor})");
    match pso_api::seed::seed(&registry, companies, seed, anchor) {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => fail(&e),
    }
}

fn keygen(key_out: &Path) -> ExitCode {
    let (pem, jwk) = match cb_tool::keygen() {
        Ok(pair) => pair,
        Err(e) => return fail(&e),
    };
    let written = std::fs::OpenOptions::new()
        .write(true)
        .create_new(true)
        .mode_private()
        .open(key_out)
        .and_then(|mut f| std::io::Write::write_all(&mut f, pem.as_bytes()));
    if let Err(e) = written {
        return fail(&format!("cannot write {}: {e}", key_out.display()));
    }
    println!("{jwk:#}");
    ExitCode::SUCCESS
}

fn sign(key: &Path, envelope: &cb_tool::Envelope, payload: &Path) -> ExitCode {
    let result = std::fs::read_to_string(key)
        .map_err(|e| format!("cannot read {}: {e}", key.display()))
        .and_then(|pem| {
            let text = std::fs::read_to_string(payload)
                .map_err(|e| format!("cannot read {}: {e}", payload.display()))?;
            let value: serde_json::Value = serde_json::from_str(&text)
                .map_err(|e| format!("{} is not JSON: {e}", payload.display()))?;
            cb_tool::sign(&pem, envelope, &value)
        });
    match result {
        Ok(jws) => {
            println!("{jws}");
            ExitCode::SUCCESS
        }
        Err(e) => fail(&e),
    }
}

/// Opens private key files readable by their owner only.
trait PrivateMode {
    fn mode_private(&mut self) -> &mut Self;
}

impl PrivateMode for std::fs::OpenOptions {
    fn mode_private(&mut self) -> &mut Self {
        std::os::unix::fs::OpenOptionsExt::mode(self, 0o600)
    }
}

/// Fails with one line and a non-zero exit on bad configuration, an unreachable
/// or unmigratable database, or a port in use.
fn serve() -> ExitCode {
    let config = match Config::from_env() {
        Ok(c) => c,
        Err(e) => return fail(&e),
    };
    telemetry::init(&config.log_filter, config.log_json);
    if config.admin_token.is_none() {
        tracing::warn!("REGISTRY_ADMIN_TOKEN is not set: the scheme owner's API is off");
    }
    let runtime = match tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
    {
        Ok(r) => r,
        Err(e) => return fail(&e),
    };
    let system = actix_web::rt::System::with_tokio_rt(|| runtime);
    let result = system.block_on(async {
        let app = Application::build(config)
            .await
            .map_err(|e| e.to_string())?;
        app.run_until_stopped().await.map_err(|e| e.to_string())
    });
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => fail(&e),
    }
}

fn verify(command: VerifyCommand) -> ExitCode {
    use pso_api::verify;
    let read = |path: &Path| {
        std::fs::read(path).map_err(|e| verify::Failed(format!("{}: {e}", path.display())))
    };
    let text = |path: &Path| read(path).map(|b| String::from_utf8_lossy(&b).into_owned());
    let result: Result<String, verify::Failed> = match command {
        VerifyCommand::Answer {
            jwks,
            verifier_key,
            answer,
        } => (|| {
            let v = verify::answer(&text(&answer)?, &text(&jwks)?, verifier_key.as_deref())?;
            let mut out = format!(
                "verified: signed by the register's key {} (reference {}, iss {}, iat {})\n",
                v.kid, v.claims["jti"], v.claims["iss"], v.claims["iat"]
            );
            if let Some(cp) = &v.checkpoint {
                out.push_str(&format!(
                    "checkpoint: {} entries of {}, signed by the log's key\n",
                    cp.size, cp.origin
                ));
            }
            let mut claims = v.claims;
            claims.remove("checkpoint");
            out.push_str(&serde_json::to_string_pretty(&claims).unwrap_or_default());
            Ok(out)
        })(),
        VerifyCommand::Inclusion {
            verifier_key,
            checkpoint,
            entry,
            proof,
        } => (|| {
            let (cp, index) = verify::inclusion(
                &verifier_key,
                &text(&checkpoint)?,
                &read(&entry)?,
                &text(&proof)?,
            )?;
            Ok(format!(
                "verified: entry {index} is in the tree of {} entries of {}",
                cp.size, cp.origin
            ))
        })(),
        VerifyCommand::Consistency {
            verifier_key,
            old,
            new,
            proof,
        } => (|| {
            let (old, new) =
                verify::consistency(&verifier_key, &text(&old)?, &text(&new)?, &text(&proof)?)?;
            Ok(format!(
                "verified: the tree of {} entries is a prefix of the tree of {} entries of {}",
                old.size, new.size, new.origin
            ))
        })(),
    };
    match result {
        Ok(report) => {
            println!("{report}");
            ExitCode::SUCCESS
        }
        Err(e) => fail(&format!("does not verify: {e}")),
    }
}

fn fail(error: &dyn std::fmt::Display) -> ExitCode {
    eprintln!("pso-registry: {error}");
    ExitCode::FAILURE
}
