//! HTTP host names: the patterns a manifest or a user grants, and the target of a URL.
//!
//! Design decision: a pure, dependency-free layer under both the manifest (which validates
//! its `http` hosts with [`HostPattern::parse`]) and the grants (which match a [`Target`]
//! against them), so neither has to import the other's module for it.

/// One allowed HTTP host: exact or `*.`-suffix, with an optional port.
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub struct HostPattern {
    /// `true` for `*.example.com`: any subdomain, not the bare domain.
    pub wildcard: bool,
    /// Lowercase host without the `*.` prefix; IPv6 literals keep their brackets.
    pub host: String,
    /// `None` matches the scheme's default port only.
    pub port: Option<u16>,
}

impl HostPattern {
    /// Parses `host`, `host:port`, `*.domain`, `[::1]:port`. No scheme, no path.
    pub fn parse(text: &str) -> Result<HostPattern, String> {
        let text = text.trim();
        if text.is_empty() || text.contains("://") || text.contains('/') || text.contains('@') {
            return Err("expected a host name such as `api.example.com` or `*.example.com`".into());
        }
        let (wildcard, rest) = match text.strip_prefix("*.") {
            Some(rest) => (true, rest),
            None => (false, text),
        };
        let (host, port) = split_host_port(rest)?;
        if host.is_empty() || host.contains('*') {
            return Err("`*` is only allowed as a leading `*.`".into());
        }
        Ok(HostPattern {
            wildcard,
            host: normalize_host(host),
            port,
        })
    }

    /// Whether this pattern admits `host` on `port` (`default_port` is the scheme's).
    pub fn matches(&self, host: &str, port: u16, default_port: u16) -> bool {
        if self.port.unwrap_or(default_port) != port {
            return false;
        }
        let host = normalize_host(host);
        if self.wildcard {
            host.len() > self.host.len() + 1
                && host.ends_with(&self.host)
                && host[..host.len() - self.host.len()].ends_with('.')
        } else {
            host == self.host
        }
    }
}

impl std::fmt::Display for HostPattern {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let star = if self.wildcard { "*." } else { "" };
        match self.port {
            Some(port) => write!(f, "{star}{}:{port}", self.host),
            None => write!(f, "{star}{}", self.host),
        }
    }
}

pub(crate) fn split_host_port(text: &str) -> Result<(&str, Option<u16>), String> {
    // IPv6 literal: `[::1]` or `[::1]:8080`.
    if text.starts_with('[') {
        let end = text.find(']').ok_or("unterminated `[` in host")?;
        let (host, rest) = text.split_at(end + 1);
        return match rest.strip_prefix(':') {
            Some(port) => Ok((host, Some(parse_port(port)?))),
            None if rest.is_empty() => Ok((host, None)),
            None => Err("unexpected text after `]`".into()),
        };
    }
    match text.rsplit_once(':') {
        Some((host, port)) => Ok((host, Some(parse_port(port)?))),
        None => Ok((text, None)),
    }
}

fn parse_port(text: &str) -> Result<u16, String> {
    text.parse::<u16>()
        .map_err(|_| format!("`{text}` is not a port number"))
}

pub(crate) fn normalize_host(host: &str) -> String {
    host.trim_end_matches('.').to_ascii_lowercase()
}

/// Whether `host` names this machine (plain `http://` is allowed only there).
pub fn is_loopback(host: &str) -> bool {
    let host = normalize_host(host);
    if host == "localhost" || host.ends_with(".localhost") {
        return true;
    }
    let bare = host.trim_start_matches('[').trim_end_matches(']');
    bare.parse::<std::net::IpAddr>()
        .map(|ip| ip.is_loopback())
        .unwrap_or(false)
}

/// The scheme, host and port of a URL the guest wants to fetch.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Target {
    /// `https://` (else plain `http://`).
    pub https: bool,
    /// Lowercase host; IPv6 literals keep their brackets.
    pub host: String,
    /// The explicit port, or the scheme's default.
    pub port: u16,
}

impl Target {
    /// Parses an absolute `http(s)://` URL.
    pub fn from_url(url: &str) -> Result<Target, String> {
        let uri: ureq::http::Uri = url.parse().map_err(|_| "not a valid URL".to_string())?;
        let https = match uri.scheme_str() {
            Some(s) if s.eq_ignore_ascii_case("https") => true,
            Some(s) if s.eq_ignore_ascii_case("http") => false,
            _ => return Err("only http:// and https:// URLs are supported".into()),
        };
        let host = uri
            .host()
            .filter(|h| !h.is_empty())
            .ok_or("the URL has no host")?;
        let port = uri.port_u16().unwrap_or(if https { 443 } else { 80 });
        Ok(Target {
            https,
            host: normalize_host(host),
            port,
        })
    }

    pub(crate) fn default_port(&self) -> u16 {
        if self.https {
            443
        } else {
            80
        }
    }

    /// `host` or `host:port` when the port is not the default; for messages.
    pub fn authority(&self) -> String {
        if self.port == self.default_port() {
            self.host.clone()
        } else {
            format!("{}:{}", self.host, self.port)
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn host_patterns_parse() {
        assert_eq!(
            HostPattern::parse("API.github.com").unwrap().host,
            "api.github.com"
        );
        let p = HostPattern::parse("*.githubcopilot.com").unwrap();
        assert!(p.wildcard);
        assert_eq!(
            HostPattern::parse("127.0.0.1:8080").unwrap().port,
            Some(8080)
        );
        assert_eq!(HostPattern::parse("[::1]:9").unwrap().host, "[::1]");
        for bad in ["", "https://x", "x/y", "a.*.b", "x:notaport", "u@x"] {
            assert!(HostPattern::parse(bad).is_err(), "{bad}");
        }
    }
}
