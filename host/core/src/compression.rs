//! Response compression: which responses may be compressed, and with which coding, as
//! both runtimes decide it (`[server.compression]`).
//!
//! - [`negotiate`] reads `Accept-Encoding` (RFC 9110 §12.5.3): q-values, `q=0` refusals,
//!   `*`, `identity`, names in any case and optional whitespace; `x-gzip` is `gzip`. The
//!   highest q wins; at equal q the server's order wins (precompressed files first, then
//!   the configured order, `br` before `gzip` by default); a coding wins over identity
//!   at equal q. A request that accepts nothing at all still gets identity (no 406).
//!   A request without `Accept-Encoding` gets identity.
//! - [`compressible`] is the content-type rule: text, JSON, JavaScript, XML (SVG too),
//!   Wasm, uncompressed fonts and bitmaps; never `text/event-stream`, and never formats
//!   that are compressed already (JPEG, PNG, video, zip, WOFF2) or unknown bytes.
//! - [`decide`] puts it together for one response: never for SSE, a response that has a
//!   `Content-Encoding` already, `Cache-Control: no-transform`, a 206 or a body-less
//!   status (204, 304), or a range request (which gets identity, so ranges keep meaning
//!   bytes of the file). A response is *negotiable* when some coding could be sent — a
//!   precompressed sibling exists, or the runtime compresses on the fly and the body is
//!   between `min_size` and `max_size` (or of unknown length, a stream). A negotiable
//!   response carries `Vary: Accept-Encoding` (merged by [`vary`]) whatever was chosen,
//!   so caches keep variants apart. HEAD is decided as GET would be.
//! - An encoded variant of a file gets its own strong `ETag` ([`variant_etag`]), so
//!   `If-None-Match` still answers 304 for the variant the client holds; a plugin's own
//!   `ETag` on a response compressed on the fly is made weak ([`weak_etag`]), as nginx
//!   does.
//!
//! The embedded runtime only serves precompressed siblings (`file.css.br`,
//! `file.css.gz`) and never compresses on the fly; the server runtime does both.

use alloc::string::String;
use alloc::vec::Vec;

/// A content coding the host can send.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Coding {
    /// Brotli (RFC 7932), `br`.
    Br,
    /// gzip (RFC 1952), `gzip`.
    Gzip,
}

impl Coding {
    /// Every coding, in the default order of preference.
    pub const ALL: [Coding; 2] = [Coding::Br, Coding::Gzip];

    /// The `Content-Encoding` token.
    pub fn token(self) -> &'static str {
        match self {
            Coding::Br => "br",
            Coding::Gzip => "gzip",
        }
    }

    /// The file-name extension of a precompressed sibling (`app.js.br`, `app.js.gz`).
    pub fn extension(self) -> &'static str {
        match self {
            Coding::Br => "br",
            Coding::Gzip => "gz",
        }
    }

    /// The coding a config or header token names (case-insensitive; `x-gzip` is gzip).
    pub fn parse(token: &str) -> Option<Coding> {
        if token.eq_ignore_ascii_case("br") {
            Some(Coding::Br)
        } else if token.eq_ignore_ascii_case("gzip") || token.eq_ignore_ascii_case("x-gzip") {
            Some(Coding::Gzip)
        } else {
            None
        }
    }
}

/// `[server.compression]` as the rules read it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Policy {
    /// Off: nothing is compressed and no precompressed sibling is served.
    pub enabled: bool,
    /// Bodies shorter than this are sent as they are (compressing them gains little and
    /// costs a round of CPU); precompressed siblings are served whatever the size.
    pub min_size: u64,
    /// Bodies longer than this are not compressed on the fly (precompress such files):
    /// it bounds the CPU one request can cost. Streams of unknown length are compressed
    /// as they go.
    pub max_size: u64,
    /// The codings offered, in the server's order of preference; never empty.
    pub codings: Vec<Coding>,
}

impl Default for Policy {
    fn default() -> Self {
        Policy {
            enabled: true,
            min_size: 1024,
            max_size: 8 << 20,
            codings: Coding::ALL.to_vec(),
        }
    }
}

/// Whether a `Content-Type` names a format worth compressing.
pub fn compressible(content_type: &str) -> bool {
    let essence = content_type.split(';').next().unwrap_or("").trim();
    let Some((kind, sub)) = essence.split_once('/') else {
        return false;
    };
    let is = |a: &str, b: &str| kind.eq_ignore_ascii_case(a) && sub.eq_ignore_ascii_case(b);
    if is("text", "event-stream") {
        return false;
    }
    if kind.eq_ignore_ascii_case("text") {
        return true;
    }
    let suffix = |s: &str| {
        sub.len() > s.len()
            && sub.is_char_boundary(sub.len() - s.len())
            && sub[sub.len() - s.len()..].eq_ignore_ascii_case(s)
    };
    if kind.eq_ignore_ascii_case("application") {
        const APPLICATION: [&str; 11] = [
            "json",
            "javascript",
            "ecmascript",
            "x-javascript",
            "xml",
            "wasm",
            "graphql",
            "x-yaml",
            "yaml",
            "toml",
            "vnd.ms-fontobject",
        ];
        return APPLICATION.iter().any(|t| sub.eq_ignore_ascii_case(t))
            || suffix("+json")
            || suffix("+xml");
    }
    if kind.eq_ignore_ascii_case("image") {
        // SVG is XML; icons and bitmaps are stored uncompressed. JPEG, PNG, GIF, WebP
        // and AVIF are compressed already.
        return ["svg+xml", "x-icon", "vnd.microsoft.icon", "bmp"]
            .iter()
            .any(|t| sub.eq_ignore_ascii_case(t));
    }
    if kind.eq_ignore_ascii_case("font") {
        // TrueType and OpenType are not compressed; WOFF and WOFF2 are.
        return ["ttf", "otf", "collection"]
            .iter()
            .any(|t| sub.eq_ignore_ascii_case(t));
    }
    false
}

/// The weights of one `Accept-Encoding`, in thousandths (`q=0.5` is 500).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
struct Weights {
    br: Option<u16>,
    gzip: Option<u16>,
    identity: Option<u16>,
    star: Option<u16>,
}

impl Weights {
    fn parse(header: &str) -> Weights {
        let mut w = Weights::default();
        for member in header.split(',') {
            let mut parts = member.split(';');
            let name = parts.next().unwrap_or("").trim_matches([' ', '\t']);
            if name.is_empty() {
                continue;
            }
            let mut q = Some(1000);
            for param in parts {
                let Some((key, value)) = param.split_once('=') else {
                    continue;
                };
                if key.trim_matches([' ', '\t']).eq_ignore_ascii_case("q") {
                    q = qvalue(value.trim_matches([' ', '\t']));
                }
            }
            // A member with a malformed q is ignored rather than guessed at.
            let Some(q) = q else { continue };
            let slot = if name == "*" {
                &mut w.star
            } else if name.eq_ignore_ascii_case("identity") {
                &mut w.identity
            } else {
                match Coding::parse(name) {
                    Some(Coding::Br) => &mut w.br,
                    Some(Coding::Gzip) => &mut w.gzip,
                    None => continue,
                }
            };
            // The first mention of a coding counts.
            slot.get_or_insert(q);
        }
        w
    }

    fn coding(&self, coding: Coding) -> u16 {
        let explicit = match coding {
            Coding::Br => self.br,
            Coding::Gzip => self.gzip,
        };
        explicit.or(self.star).unwrap_or(0)
    }

    /// Identity's weight against a coding: as named, else as `*`. Unnamed, it is
    /// acceptable but the least preferred (RFC 9110 gives it no weight then), so
    /// `gzip;q=0.8` alone still means gzip.
    fn identity(&self) -> u16 {
        self.identity.or(self.star).unwrap_or(0)
    }
}

/// An RFC 9110 qvalue (`0`, `0.5`, `1`, `1.000`) in thousandths; `None` when malformed.
fn qvalue(text: &str) -> Option<u16> {
    let (whole, frac) = text.split_once('.').unwrap_or((text, ""));
    if frac.len() > 3 || !frac.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    let mut thousandths: u16 = match whole {
        "0" => 0,
        "1" => 1000,
        _ => return None,
    };
    let mut scale = 100;
    for b in frac.bytes() {
        thousandths += u16::from(b - b'0') * scale;
        scale /= 10;
    }
    (thousandths <= 1000).then_some(thousandths)
}

/// The coding to send among `offered` (in the server's order of preference), or `None`
/// for identity, for a request whose `Accept-Encoding` is `accept` (several header
/// lines joined with `,`).
pub fn negotiate(accept: Option<&str>, offered: &[Coding]) -> Option<Coding> {
    let weights = Weights::parse(accept?);
    let mut best: Option<(Coding, u16)> = None;
    for &coding in offered {
        let q = weights.coding(coding);
        if q > 0 && best.is_none_or(|(_, b)| q > b) {
            best = Some((coding, q));
        }
    }
    let (coding, q) = best?;
    (q >= weights.identity()).then_some(coding)
}

/// What the rules see of one response.
#[derive(Debug, Clone, Copy, Default)]
pub struct Candidate<'a> {
    /// The final status.
    pub status: u16,
    /// Its `Content-Type`, if any.
    pub content_type: Option<&'a str>,
    /// Whether it already has a `Content-Encoding` (a plugin compressed it itself).
    pub encoded: bool,
    /// Whether its `Cache-Control` says `no-transform`.
    pub no_transform: bool,
    /// The body's length; `None` for a stream.
    pub len: Option<u64>,
    /// Whether the request asked for a byte range (or the response is one).
    pub ranged: bool,
}

impl Candidate<'_> {
    /// Whether no coding may ever apply to this response (no `Vary` either).
    fn fixed(&self) -> bool {
        let bodyless = matches!(self.status, 204 | 206 | 304) || self.status < 200;
        bodyless
            || self.encoded
            || self.no_transform
            || !self.content_type.is_some_and(compressible)
    }
}

/// How to send one response.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Decision {
    /// As it is, without `Vary`: no coding could apply whatever the request said.
    AsIs,
    /// With `Vary: Accept-Encoding`, encoded with this coding (`None`: identity).
    Vary(Option<Coding>),
}

impl Decision {
    /// The coding chosen, if any.
    pub fn coding(self) -> Option<Coding> {
        match self {
            Decision::AsIs => None,
            Decision::Vary(c) => c,
        }
    }
}

/// Decides one response. `precompressed` lists the codings a sibling file exists for
/// (empty for anything but a file); `on_the_fly` says whether this runtime compresses
/// bodies itself (the server does, the embedded runtime does not).
pub fn decide(
    policy: &Policy,
    response: &Candidate<'_>,
    precompressed: &[Coding],
    on_the_fly: bool,
    accept: Option<&str>,
) -> Decision {
    if !policy.enabled || response.fixed() {
        return Decision::AsIs;
    }
    let sized = response
        .len
        .is_none_or(|n| n >= policy.min_size && n <= policy.max_size);
    let mut offered: Vec<Coding> = Vec::with_capacity(policy.codings.len());
    offered.extend(policy.codings.iter().filter(|c| precompressed.contains(c)));
    if on_the_fly && sized {
        for c in &policy.codings {
            if !offered.contains(c) {
                offered.push(*c);
            }
        }
    }
    if offered.is_empty() {
        return Decision::AsIs;
    }
    if response.ranged {
        return Decision::Vary(None);
    }
    Decision::Vary(negotiate(accept, &offered))
}

/// The `Vary` value after adding `Accept-Encoding` to `existing` (the response's `Vary`
/// values joined with `,`), or `None` when it already covers it (`*`, or listed).
pub fn vary(existing: Option<&str>) -> Option<String> {
    let Some(existing) = existing.map(str::trim).filter(|v| !v.is_empty()) else {
        return Some(String::from("Accept-Encoding"));
    };
    let covered = existing
        .split(',')
        .map(str::trim)
        .any(|name| name == "*" || name.eq_ignore_ascii_case("accept-encoding"));
    (!covered).then(|| alloc::format!("{existing}, Accept-Encoding"))
}

/// Adds `Accept-Encoding` to the `Vary` of a header list (both runtimes' responses), its
/// `Vary` lines merged into one; nothing changes when they already cover it.
pub fn vary_pairs(headers: &mut Vec<(String, String)>) {
    let existing: Vec<&str> = headers
        .iter()
        .filter(|(n, _)| n.eq_ignore_ascii_case("vary"))
        .map(|(_, v)| v.as_str())
        .collect();
    let joined = existing.join(", ");
    if let Some(merged) = vary((!existing.is_empty()).then_some(joined.as_str())) {
        headers.retain(|(n, _)| !n.eq_ignore_ascii_case("vary"));
        headers.push((String::from("vary"), merged));
    }
}

/// A file's `ETag` for its `coding` variant: `"abc"` becomes `"abc-br"` (`W/` kept).
pub fn variant_etag(etag: &str, coding: Coding) -> String {
    match etag.strip_suffix('"') {
        Some(open) => alloc::format!("{open}-{}\"", coding.token()),
        None => String::from(etag),
    }
}

/// A strong `ETag` made weak (`"abc"` → `W/"abc"`): the bytes changed, the meaning not.
pub fn weak_etag(etag: &str) -> String {
    if etag.starts_with("W/") {
        String::from(etag)
    } else {
        alloc::format!("W/{etag}")
    }
}

#[cfg(test)]
#[path = "compression_tests.rs"]
mod tests;
