//! `AUTH_PROXY_REDIS_URL`, parsed once: which Redis topology the store talks to, and how long a
//! durable write waits for replicas.
//!
//! | form | topology |
//! |---|---|
//! | `redis://[user:pass@]host:port[/db]`, `redis+unix:///path`, `unix:///path` | one Redis (the `redis` crate's own URL forms) |
//! | `redis+cluster://[user:pass@]host1:port1,host2:port2[,…]` | Redis Cluster; the nodes listed are only where discovery starts |
//! | `redis+sentinel://[user:pass@]s1:port1,s2:port2[,…]/<master name>[/db]` | the master that Redis Sentinel names, followed across failovers |
//!
//! Query parameters (any form): `wait_replicas=<n>` makes every durable write (grants, codes,
//! refresh tokens, revocations, registrations) wait until `n` replicas have it (Redis `WAIT`),
//! at most `wait_timeout_ms` (default 200, at most 500); Sentinel only: `sentinel_username`,
//! `sentinel_password` when the sentinels themselves require a password (the user and password
//! before `@` are the Redis nodes'). `rediss` (TLS) is refused: see [`NO_TLS`].
//! Other parameters are refused for Cluster and Sentinel and left to the crate for one Redis.

use std::time::Duration;

use url::Url;

/// A URL that is not one of the forms above. Names the problem, never the URL (it may carry a
/// password).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{0}")]
pub struct TargetError(String);

fn bad(msg: impl Into<String>) -> TargetError {
    TargetError(msg.into())
}

/// The `redis` crate's TLS support is not built in: its rustls feature pulls platform crates
/// (macOS and Windows certificate stores) that the offline licence check cannot see. Refused
/// here, at startup, rather than at the first connection.
const NO_TLS: &str = "rediss (TLS to Redis) is not supported by this build: reach Redis over a \
     private network, or through a local TLS tunnel with a redis:// URL";

/// How long a durable write waits for replicas before it is answered anyway.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct WaitPolicy {
    pub replicas: u32,
    pub timeout: Duration,
}

pub const DEFAULT_WAIT_TIMEOUT: Duration = Duration::from_millis(200);
/// Below the store's per-reply timeout, so a replica that never acknowledges cannot turn a
/// durable write into an error.
pub const MAX_WAIT_TIMEOUT: Duration = Duration::from_millis(500);

#[derive(Clone, PartialEq, Eq)]
pub enum Topology {
    /// A URL the `redis` crate opens as it is.
    Single(String),
    /// One `redis://` URL per seed node, credentials included.
    Cluster(Vec<String>),
    Sentinel(SentinelTarget),
}

#[derive(Clone, PartialEq, Eq)]
pub struct SentinelTarget {
    /// One `redis://` URL per sentinel, with the sentinels' credentials.
    pub sentinels: Vec<String>,
    pub master_name: String,
    pub username: Option<String>,
    pub password: Option<String>,
    pub db: i64,
}

/// Never prints credentials.
impl std::fmt::Debug for Topology {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Self::Single(_) => f.write_str("Single"),
            Self::Cluster(nodes) => write!(f, "Cluster({} seed nodes)", nodes.len()),
            Self::Sentinel(s) => write!(
                f,
                "Sentinel({} sentinels, master {:?})",
                s.sentinels.len(),
                s.master_name
            ),
        }
    }
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Target {
    pub topology: Topology,
    pub wait: Option<WaitPolicy>,
}

impl Target {
    pub fn parse(raw: &str) -> Result<Self, TargetError> {
        let raw = raw.trim();
        let (scheme, rest) = raw
            .split_once("://")
            .ok_or_else(|| bad("must be a redis://, redis+cluster:// or redis+sentinel:// URL"))?;
        match scheme.to_ascii_lowercase().as_str() {
            "rediss" | "rediss+cluster" | "rediss+sentinel" => Err(bad(NO_TLS)),
            "redis" | "redis+unix" | "unix" => single(raw),
            "redis+cluster" => cluster(rest),
            "redis+sentinel" => sentinel(rest),
            _ => Err(bad(
                "must be a redis://, redis+cluster:// or redis+sentinel:// URL",
            )),
        }
    }
}

/// Takes the wait parameters out of `pairs`, leaving the others.
fn take_wait(pairs: &mut Vec<(String, String)>) -> Result<Option<WaitPolicy>, TargetError> {
    let mut replicas = None;
    let mut timeout = None;
    let mut rest = Vec::new();
    for (k, v) in pairs.drain(..) {
        match k.as_str() {
            "wait_replicas" => {
                let n: u32 = v
                    .parse()
                    .map_err(|_| bad("wait_replicas must be a whole number"))?;
                replicas = Some(n);
            }
            "wait_timeout_ms" => {
                let ms: u64 = v
                    .parse()
                    .ok()
                    .filter(|ms| (1..=MAX_WAIT_TIMEOUT.as_millis()).contains(&u128::from(*ms)))
                    .ok_or_else(|| {
                        bad(format!(
                            "wait_timeout_ms must be 1..={}",
                            MAX_WAIT_TIMEOUT.as_millis()
                        ))
                    })?;
                timeout = Some(Duration::from_millis(ms));
            }
            _ => rest.push((k, v)),
        }
    }
    *pairs = rest;
    match (replicas, timeout) {
        (None | Some(0), None) => Ok(None),
        (None | Some(0), Some(_)) => Err(bad("wait_timeout_ms needs wait_replicas of 1 or more")),
        (Some(replicas), timeout) => Ok(Some(WaitPolicy {
            replicas,
            timeout: timeout.unwrap_or(DEFAULT_WAIT_TIMEOUT),
        })),
    }
}

fn single(raw: &str) -> Result<Target, TargetError> {
    let mut url = Url::parse(raw).map_err(|_| bad("is not a valid URL"))?;
    let mut pairs: Vec<(String, String)> = url.query_pairs().into_owned().collect();
    let wait = take_wait(&mut pairs)?;
    if pairs.is_empty() {
        url.set_query(None);
    } else {
        url.query_pairs_mut().clear().extend_pairs(pairs);
    }
    let url = url.to_string();
    redis::Client::open(url.as_str()).map_err(|_| bad("is not a URL the redis client accepts"))?;
    Ok(Target {
        topology: Topology::Single(url),
        wait,
    })
}

/// `[user:pass@]host:port,host:port[/path][?query]` after the scheme.
struct MultiHost<'a> {
    userinfo: Option<&'a str>,
    hosts: Vec<&'a str>,
    path: &'a str,
    pairs: Vec<(String, String)>,
}

fn split_multi_host(rest: &str) -> Result<MultiHost<'_>, TargetError> {
    if rest.contains('#') {
        return Err(bad("must not have a fragment"));
    }
    let (rest, query) = match rest.split_once('?') {
        Some((r, q)) => (r, q),
        None => (rest, ""),
    };
    let (authority, path) = match rest.find('/') {
        Some(i) => (&rest[..i], &rest[i + 1..]),
        None => (rest, ""),
    };
    let (userinfo, hosts) = match authority.rsplit_once('@') {
        Some((u, h)) => (Some(u), h),
        None => (None, authority),
    };
    let hosts: Vec<&str> = hosts.split(',').map(str::trim).collect();
    if hosts.iter().any(|h| h.is_empty()) {
        return Err(bad("lists an empty host"));
    }
    let pairs = url::form_urlencoded::parse(query.as_bytes())
        .into_owned()
        .collect();
    Ok(MultiHost {
        userinfo,
        hosts,
        path,
        pairs,
    })
}

/// `scheme://[userinfo@]host`, checked to be a plain host:port (nothing after it).
fn node_url(scheme: &str, userinfo: Option<&str>, host: &str) -> Result<String, TargetError> {
    let at = userinfo.map(|u| format!("{u}@")).unwrap_or_default();
    let raw = format!("{scheme}://{at}{host}");
    let url = Url::parse(&raw).map_err(|_| bad("lists a host that is not host:port"))?;
    if url.host_str().is_none_or(str::is_empty) || !matches!(url.path(), "" | "/") {
        return Err(bad("lists a host that is not host:port"));
    }
    Ok(raw)
}

fn cluster(rest: &str) -> Result<Target, TargetError> {
    let mut parts = split_multi_host(rest)?;
    if !parts.path.is_empty() {
        return Err(bad(
            "redis+cluster:// takes no path (a cluster has only database 0)",
        ));
    }
    let wait = take_wait(&mut parts.pairs)?;
    if let Some((k, _)) = parts.pairs.first() {
        return Err(bad(format!("unknown parameter {k:?}")));
    }
    let scheme = "redis";
    let nodes = parts
        .hosts
        .iter()
        .map(|h| node_url(scheme, parts.userinfo, h))
        .collect::<Result<Vec<_>, _>>()?;
    Ok(Target {
        topology: Topology::Cluster(nodes),
        wait,
    })
}

fn decoded(s: &str) -> Result<String, TargetError> {
    percent_decode(s).ok_or_else(|| bad("has a badly encoded user or password"))
}

fn percent_decode(s: &str) -> Option<String> {
    let bytes = s.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        if bytes[i] == b'%' {
            let hex = s.get(i + 1..i + 3)?;
            out.push(u8::from_str_radix(hex, 16).ok()?);
            i += 3;
        } else {
            out.push(bytes[i]);
            i += 1;
        }
    }
    String::from_utf8(out).ok()
}

fn sentinel(rest: &str) -> Result<Target, TargetError> {
    let mut parts = split_multi_host(rest)?;
    let mut path = parts.path.trim_end_matches('/').split('/');
    let master_name = path.next().filter(|m| !m.is_empty()).ok_or_else(|| {
        bad("redis+sentinel:// needs the master's name as its path: redis+sentinel://host:port,…/<master name>")
    })?;
    let master_name = decoded(master_name)?;
    let db = match path.next() {
        None => 0,
        Some(db) => db
            .parse::<i64>()
            .ok()
            .filter(|db| *db >= 0)
            .ok_or_else(|| bad("database after the master's name must be a number"))?,
    };
    if path.next().is_some() {
        return Err(bad("path must be /<master name>[/<db>]"));
    }
    let wait = take_wait(&mut parts.pairs)?;
    let mut sentinel_user = None;
    let mut sentinel_password = None;
    for (k, v) in parts.pairs.drain(..) {
        match k.as_str() {
            "sentinel_username" => sentinel_user = Some(v),
            "sentinel_password" => sentinel_password = Some(v),
            _ => return Err(bad(format!("unknown parameter {k:?}"))),
        }
    }
    let (username, password) = match parts.userinfo {
        None => (None, None),
        Some(u) => match u.split_once(':') {
            Some((user, pass)) => (Some(decoded(user)?), Some(decoded(pass)?)),
            None => (Some(decoded(u)?), None),
        },
    };
    let scheme = "redis";
    let sentinels = parts
        .hosts
        .iter()
        .map(|h| {
            let mut url = Url::parse(&node_url(scheme, None, h)?)
                .map_err(|_| bad("lists a host that is not host:port"))?;
            if let Some(user) = &sentinel_user {
                url.set_username(user)
                    .map_err(|()| bad("sentinel_username cannot be used"))?;
            }
            if let Some(pass) = &sentinel_password {
                url.set_password(Some(pass))
                    .map_err(|()| bad("sentinel_password cannot be used"))?;
            }
            Ok(url.to_string())
        })
        .collect::<Result<Vec<_>, TargetError>>()?;
    Ok(Target {
        topology: Topology::Sentinel(SentinelTarget {
            sentinels,
            master_name,
            username: username.filter(|u| !u.is_empty()),
            password,
            db,
        }),
        wait,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(raw: &str) -> Target {
        Target::parse(raw).unwrap_or_else(|e| panic!("{raw}: {e}"))
    }

    #[test]
    fn single_urls_pass_through_without_the_wait_parameters() {
        let t = parse("redis://:pw@127.0.0.1:6379/2");
        assert_eq!(
            t.topology,
            Topology::Single("redis://:pw@127.0.0.1:6379/2".into())
        );
        assert_eq!(t.wait, None);
        let t = parse("redis://h:6380/?wait_replicas=1&protocol=resp3");
        assert_eq!(
            t.topology,
            Topology::Single("redis://h:6380/?protocol=resp3".into())
        );
        assert_eq!(
            t.wait,
            Some(WaitPolicy {
                replicas: 1,
                timeout: DEFAULT_WAIT_TIMEOUT
            })
        );
        assert!(matches!(
            parse("unix:///run/redis.sock").topology,
            Topology::Single(_)
        ));
    }

    #[test]
    fn cluster_urls_list_seed_nodes_with_shared_credentials() {
        let t = parse("redis+cluster://u:p%40ss@10.0.0.1:7000,10.0.0.2:7001,[::1]:7002?wait_replicas=1&wait_timeout_ms=50");
        assert_eq!(
            t.topology,
            Topology::Cluster(vec![
                "redis://u:p%40ss@10.0.0.1:7000".into(),
                "redis://u:p%40ss@10.0.0.2:7001".into(),
                "redis://u:p%40ss@[::1]:7002".into(),
            ])
        );
        assert_eq!(t.wait.unwrap().timeout, Duration::from_millis(50));
    }

    #[test]
    fn sentinel_urls_name_the_master_and_separate_credentials() {
        let t = parse(
            "redis+sentinel://:node%2Fpw@s1:26379,s2:26380/mymaster/3?sentinel_password=s%40p%26",
        );
        let Topology::Sentinel(s) = t.topology else {
            panic!("not sentinel");
        };
        assert_eq!(s.master_name, "mymaster");
        assert_eq!(s.db, 3);
        assert_eq!(s.username, None);
        assert_eq!(s.password.as_deref(), Some("node/pw"));
        assert_eq!(
            s.sentinels,
            vec![
                "redis://:s%40p&@s1:26379".to_owned(),
                "redis://:s%40p&@s2:26380".to_owned()
            ]
        );
        let t = parse("redis+sentinel://s1:26379/m");
        let Topology::Sentinel(s) = t.topology else {
            panic!("not sentinel");
        };
        assert_eq!(s.db, 0);
        assert_eq!(s.sentinels, vec!["redis://s1:26379".to_owned()]);
    }

    /// The crate is built without TLS: refused when the configuration is read, not at the
    /// first connection.
    #[test]
    fn tls_urls_are_refused_up_front() {
        for raw in [
            "rediss://h:6380",
            "rediss+cluster://h1:7000",
            "rediss+sentinel://s1:26379/m",
        ] {
            assert_eq!(Target::parse(raw).unwrap_err().to_string(), NO_TLS, "{raw}");
        }
    }

    #[test]
    fn malformed_urls_are_refused_without_echoing_them() {
        for raw in [
            "http://h:6379",
            "h:6379",
            "redis+cluster://",
            "redis+cluster://h1:7000,,h2:7000",
            "redis+cluster://h1:7000/0",
            "redis+cluster://h1:7000?foo=1",
            "redis+cluster://h1:notaport",
            "redis+sentinel://s1:26379",
            "redis+sentinel://s1:26379/",
            "redis+sentinel://s1:26379/m/x",
            "redis+sentinel://s1:26379/m/1/2",
            "redis+sentinel://s1:26379/m?password=x",
            "redis+sentinel://:%zz@s1:26379/m",
            "redis://h?wait_replicas=-1",
            "redis://h?wait_replicas=1&wait_timeout_ms=0",
            "redis://h?wait_replicas=1&wait_timeout_ms=501",
            "redis://h?wait_timeout_ms=100",
            "redis+cluster://h:1#frag",
        ] {
            let e = Target::parse(raw).expect_err(raw);
            assert!(!e.to_string().contains("h1"), "{raw}: {e}");
        }
        let e = Target::parse("redis+cluster://u:secret-pw@h:1/x").unwrap_err();
        assert!(!e.to_string().contains("secret-pw"), "{e}");
    }

    #[test]
    fn debug_never_shows_credentials() {
        for raw in [
            "redis://:secret-pw@h:1",
            "redis+cluster://:secret-pw@h:1",
            "redis+sentinel://:secret-pw@h:1/m?sentinel_password=secret-pw",
        ] {
            let shown = format!("{:?}", parse(raw));
            assert!(!shown.contains("secret-pw"), "{shown}");
        }
    }
}
