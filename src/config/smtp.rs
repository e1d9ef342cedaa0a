//! SMTP URLs: `smtp://[user[:pass]@]host[:port]` (STARTTLS, 587), `smtps://` (implicit
//! TLS, 465), `smtp+plain://` (no TLS, 25). User and password are percent-decoded
//! (`alerts%40msp.example`).
//!
//! The URL may hold a password, so errors describe the problem and never include any
//! part of the input: not even the host or port, since a password with an unescaped
//! `/` or `@` shifts where those seem to be.

use percent_encoding::percent_decode_str;
use secrecy::SecretString;

use super::types::{SmtpSecurity, SmtpUrl};

const FORM: &str = "expected smtp://[user[:password]@]host[:port] (STARTTLS, default port 587), \
     smtps://... (implicit TLS, 465) or smtp+plain://... (no TLS, 25)";

/// Parse an SMTP URL; the error says what is wrong and what is expected.
pub(crate) fn parse_smtp_url(s: &str) -> Result<SmtpUrl, String> {
    let (scheme, rest) = s
        .split_once("://")
        .ok_or_else(|| format!("no scheme: {FORM}"))?;
    let (security, default_port) = match scheme.to_ascii_lowercase().as_str() {
        "smtp" => (SmtpSecurity::StartTls, 587),
        "smtps" => (SmtpSecurity::Implicit, 465),
        "smtp+plain" => (SmtpSecurity::Plain, 25),
        _ => {
            return Err(format!(
                "the scheme must be smtp, smtps or smtp+plain: {FORM}"
            ));
        }
    };
    // Userinfo ends at the last '@': a password may contain an unescaped '@'.
    let (userinfo, hostport) = match rest.rsplit_once('@') {
        Some((userinfo, hostport)) => (Some(userinfo), hostport),
        None => (None, rest),
    };
    let hostport = hostport.strip_suffix('/').unwrap_or(hostport);
    if hostport.contains(['/', '?', '#']) {
        return Err(format!(
            "nothing may follow host:port (no path, query or fragment); \
             if the password holds '/', '?', '#' or '@', percent-encode it (%2F, %3F, %23, %40): {FORM}"
        ));
    }
    let (host, port) = split_host_port(hostport)?;
    if host.is_empty() {
        return Err(format!("the host is missing: {FORM}"));
    }
    let port = match port {
        None => default_port,
        Some(p) => match p.parse::<u16>() {
            Ok(n) if n != 0 && p.bytes().all(|b| b.is_ascii_digit()) => n,
            _ => return Err(format!("the port must be a number from 1 to 65535: {FORM}")),
        },
    };
    let (username, password) = match userinfo {
        None => (None, None),
        Some(userinfo) => {
            let (user, pass) = match userinfo.split_once(':') {
                Some((user, pass)) => (user, Some(pass)),
                None => (userinfo, None),
            };
            let user = decode(user, "user name")?;
            let pass = pass.map(|p| decode(p, "password")).transpose()?;
            if user.is_empty() {
                if pass.is_some() {
                    return Err(format!("a password is given without a user name: {FORM}"));
                }
                (None, None)
            } else {
                (Some(user), pass.map(SecretString::from))
            }
        }
    };
    Ok(SmtpUrl {
        security,
        host: host.to_string(),
        port,
        username,
        password,
    })
}

fn split_host_port(hostport: &str) -> Result<(&str, Option<&str>), String> {
    if let Some(v6) = hostport.strip_prefix('[') {
        let (addr, after) = v6
            .split_once(']')
            .ok_or_else(|| format!("an IPv6 host is missing its closing ']': {FORM}"))?;
        return match after {
            "" => Ok((addr, None)),
            _ => match after.strip_prefix(':') {
                Some(port) => Ok((addr, Some(port))),
                None => Err(format!("only :port may follow an IPv6 host: {FORM}")),
            },
        };
    }
    Ok(match hostport.split_once(':') {
        Some((host, port)) => (host, Some(port)),
        None => (hostport, None),
    })
}

fn decode(s: &str, what: &str) -> Result<String, String> {
    percent_decode_str(s)
        .decode_utf8()
        .map(|c| c.into_owned())
        .map_err(|_| format!("the {what} is not valid UTF-8 after percent-decoding: {FORM}"))
}

#[cfg(test)]
mod tests {
    use super::*;
    use secrecy::ExposeSecret;

    #[test]
    fn parses_the_three_schemes_with_default_ports() {
        let u = parse_smtp_url("smtp://smtp.example").unwrap();
        assert_eq!(
            (u.security, u.host.as_str(), u.port),
            (SmtpSecurity::StartTls, "smtp.example", 587)
        );
        let u = parse_smtp_url("smtps://smtp.example").unwrap();
        assert_eq!((u.security, u.port), (SmtpSecurity::Implicit, 465));
        let u = parse_smtp_url("smtp+plain://127.0.0.1").unwrap();
        assert_eq!((u.security, u.port), (SmtpSecurity::Plain, 25));
        assert!(u.username.is_none() && u.password.is_none());
    }

    #[test]
    fn decodes_user_and_password() {
        let u = parse_smtp_url("smtps://alerts%40msp.example:p%40ss:w@rd@smtp.msp.example:2465/")
            .unwrap();
        assert_eq!(u.username.as_deref(), Some("alerts@msp.example"));
        assert_eq!(u.password.as_ref().unwrap().expose_secret(), "p@ss:w@rd");
        assert_eq!((u.host.as_str(), u.port), ("smtp.msp.example", 2465));
        let u = parse_smtp_url("smtp://relay@[::1]:2525").unwrap();
        assert_eq!(
            (u.username.as_deref(), u.host.as_str(), u.port),
            (Some("relay"), "::1", 2525)
        );
        assert!(u.password.is_none());
    }

    #[test]
    fn rejects_bad_urls_without_echoing_them() {
        for (bad, needle) in [
            ("smtp.example:25", "no scheme"),
            (
                "http://u:hunter2@smtp.example",
                "scheme must be smtp, smtps or smtp+plain",
            ),
            ("smtps://u:hunter2@", "host is missing"),
            ("smtps://u:hunter2@:465", "host is missing"),
            ("smtps://u:hunter2@host:abc", "port must be a number"),
            ("smtps://u:hunter2@host:0", "port must be a number"),
            ("smtps://u:hunter2@host:70000", "port must be a number"),
            ("smtps://u:hunter2@host:+25", "port must be a number"),
            ("smtps://u:hunter2@host/path", "percent-encode"),
            (
                "smtps://:hunter2@host",
                "password is given without a user name",
            ),
            ("smtps://u:%ff%fe@host", "not valid UTF-8"),
            ("smtps://u@[::1", "closing ']'"),
        ] {
            let err = parse_smtp_url(bad).expect_err(bad);
            assert!(err.contains(needle), "{bad}: {err}");
            assert!(!err.contains("hunter2"), "{err}");
        }
    }
}
