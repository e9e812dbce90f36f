//! Seed 002's CORSMiddleware: answers preflight requests and adds
//! `Access-Control-Allow-*` headers to every response.
//!
//! Config: `origins` (default `*`, or a comma list), `methods` (default
//! `GET,POST,PUT,DELETE,OPTIONS`), `headers` (default `Content-Type,Authorization`),
//! `credentials` (default `false`), `max_age` (default `86400`).
use berth_sdk::prelude::*;

struct Cors;

struct Settings {
    any_origin: bool,
    origins: Vec<String>,
    methods: String,
    headers: String,
    credentials: bool,
    max_age: String,
}

impl Settings {
    /// The `Access-Control-Allow-Origin` value for this request, if it is allowed.
    fn allow_origin(&self, req: &Request) -> Option<String> {
        if self.any_origin {
            return Some("*".into());
        }
        let origin = req.header("Origin")?;
        self.origins
            .iter()
            .any(|o| o == origin)
            .then(|| origin.to_string())
    }
}

impl Plugin for Cors {
    fn setup(app: &mut App, config: &Config) -> Result<(), String> {
        let origins: Vec<String> = config
            .get_or("origins", "*")
            .split(',')
            .map(|o| o.trim().to_string())
            .filter(|o| !o.is_empty())
            .collect();
        let s = Settings {
            any_origin: origins.is_empty() || origins.iter().any(|o| o == "*"),
            origins,
            methods: config
                .get_or("methods", "GET,POST,PUT,DELETE,OPTIONS")
                .to_string(),
            headers: config
                .get_or("headers", "Content-Type,Authorization")
                .to_string(),
            credentials: config.parse_or("credentials", false)?,
            max_age: config.parse_or::<u32>("max_age", 86400)?.to_string(),
        };

        app.before(move |req| {
            let origin = s.allow_origin(req);
            let preflight = req.method() == Method::Options
                && req.header("Access-Control-Request-Method").is_some();
            if preflight {
                let mut resp = Response::empty(204)
                    .header("Access-Control-Allow-Methods", &s.methods)
                    .header("Access-Control-Allow-Headers", &s.headers)
                    .header("Access-Control-Max-Age", &s.max_age);
                if let Some(origin) = &origin {
                    resp.set_header("Access-Control-Allow-Origin", origin);
                    if s.credentials {
                        resp.set_header("Access-Control-Allow-Credentials", "true");
                    }
                }
                if !s.any_origin {
                    resp.set_header("Vary", "Origin");
                }
                return Flow::Respond(resp);
            }
            let mut next = Next::new();
            if let Some(origin) = &origin {
                next = next.response_header("Access-Control-Allow-Origin", origin);
                if s.credentials {
                    next = next.response_header("Access-Control-Allow-Credentials", "true");
                }
            }
            if !s.any_origin {
                next = next.response_header("Vary", "Origin");
            }
            Flow::Next(next)
        });
        Ok(())
    }
}

berth_sdk::export_plugin!(Cors);

#[cfg(test)]
mod tests;
