//! The pages' two languages: Dutch first, English on request (`?lang=en`, or
//! `Accept-Language` preferring English), and dates the way each writes them.

use actix_web::HttpRequest;
use actix_web::http::header;
use chrono::{Datelike, NaiveDate};

/// The language a page speaks.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Lang {
    Nl,
    En,
}

impl Lang {
    /// `?lang=nl|en` when given (the visible switch), else the first of Dutch
    /// and English in the browser's `Accept-Language` order, else Dutch.
    pub fn of(req: &HttpRequest) -> Lang {
        let asked = url::form_urlencoded::parse(req.query_string().as_bytes())
            .find(|(k, _)| k == "lang")
            .and_then(|(_, v)| Lang::parse(&v));
        asked.unwrap_or_else(|| Lang::accepted(req))
    }

    pub fn parse(code: &str) -> Option<Lang> {
        match code {
            "nl" => Some(Lang::Nl),
            "en" => Some(Lang::En),
            _ => None,
        }
    }

    /// From `Accept-Language`: the highest-rated of `nl` and `en` (ties go
    /// to the one named first).
    fn accepted(req: &HttpRequest) -> Lang {
        let mut best: Option<(f32, Lang)> = None;
        for value in req
            .headers()
            .get_all(header::ACCEPT_LANGUAGE)
            .filter_map(|v| v.to_str().ok())
        {
            for item in value.split(',') {
                let mut parts = item.split(';').map(str::trim);
                let tag = parts.next().unwrap_or_default().to_ascii_lowercase();
                let q = parts
                    .find_map(|p| p.strip_prefix("q="))
                    .and_then(|q| q.parse::<f32>().ok())
                    .unwrap_or(1.0);
                let lang = match tag.split('-').next() {
                    Some("nl") => Lang::Nl,
                    Some("en") => Lang::En,
                    _ => continue,
                };
                if q > 0.0 && best.is_none_or(|(b, _)| q > b) {
                    best = Some((q, lang));
                }
            }
        }
        best.map_or(Lang::Nl, |(_, l)| l)
    }

    /// The BCP 47 tag, for `lang` attributes.
    pub fn code(self) -> &'static str {
        match self {
            Lang::Nl => "nl",
            Lang::En => "en",
        }
    }

    /// The other language: what the switch offers.
    pub fn other(self) -> Lang {
        match self {
            Lang::Nl => Lang::En,
            Lang::En => Lang::Nl,
        }
    }

    /// The text in this language.
    pub fn t(self, nl: &'static str, en: &'static str) -> &'static str {
        match self {
            Lang::Nl => nl,
            Lang::En => en,
        }
    }

    /// A date as people write it: `1 juni 2026`, `1 June 2026`.
    pub fn date(self, d: NaiveDate) -> String {
        const NL: [&str; 12] = [
            "januari",
            "februari",
            "maart",
            "april",
            "mei",
            "juni",
            "juli",
            "augustus",
            "september",
            "oktober",
            "november",
            "december",
        ];
        const EN: [&str; 12] = [
            "January",
            "February",
            "March",
            "April",
            "May",
            "June",
            "July",
            "August",
            "September",
            "October",
            "November",
            "December",
        ];
        let months = match self {
            Lang::Nl => &NL,
            Lang::En => &EN,
        };
        let month = months[d.month0() as usize];
        format!("{} {month} {}", d.day(), d.year())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use actix_web::test::TestRequest;

    #[test]
    fn dates_read_the_dutch_way() {
        let d = NaiveDate::from_ymd_opt(2026, 6, 1).expect("date");
        assert_eq!(Lang::Nl.date(d), "1 juni 2026");
        assert_eq!(Lang::En.date(d), "1 June 2026");
        let d = NaiveDate::from_ymd_opt(2027, 12, 31).expect("date");
        assert_eq!(Lang::Nl.date(d), "31 december 2027");
    }

    #[test]
    fn the_switch_wins_then_the_browser_then_dutch() {
        let lang = |uri: &str, accept: Option<&str>| {
            let mut req = TestRequest::get().uri(uri);
            if let Some(a) = accept {
                req = req.insert_header((header::ACCEPT_LANGUAGE, a));
            }
            Lang::of(&req.to_http_request())
        };
        assert_eq!(lang("/", None), Lang::Nl);
        assert_eq!(lang("/", Some("en-GB,en;q=0.9")), Lang::En);
        assert_eq!(lang("/", Some("de-DE,en;q=0.5,nl;q=0.8")), Lang::Nl);
        assert_eq!(lang("/", Some("fr")), Lang::Nl);
        assert_eq!(lang("/", Some("en;q=0")), Lang::Nl);
        assert_eq!(lang("/?lang=en", Some("nl")), Lang::En);
        assert_eq!(lang("/?lang=nl", Some("en")), Lang::Nl);
        assert_eq!(lang("/?lang=xx", Some("en")), Lang::En);
    }
}
