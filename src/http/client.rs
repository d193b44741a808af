//! Who is on the other end: the client's address (believing `X-Forwarded-For` only
//! from configured proxies) and the bearer token it presents.

use std::net::{IpAddr, SocketAddr};

use axum::extract::ConnectInfo;
use axum::http::{Extensions, HeaderMap, header};
use secrecy::ExposeSecret;

pub use crate::auth::tokens::bearer_token;
pub use crate::graphql::engine::admission::ClientAddr;

pub fn client_addr(extensions: &Extensions, headers: &HeaderMap, trusted: &[IpAddr]) -> ClientAddr {
    let peer = extensions
        .get::<ConnectInfo<SocketAddr>>()
        .map(|c| c.0.ip())
        .unwrap_or(IpAddr::from([0, 0, 0, 0]));
    if !trusted.contains(&peer) {
        return ClientAddr(peer);
    }
    // Walk the chain from the nearest hop back; the first address that is not one of
    // our proxies is the client.
    let chain: Vec<IpAddr> = headers
        .get_all("x-forwarded-for")
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(','))
        .filter_map(|ip| ip.trim().parse().ok())
        .collect();
    ClientAddr(
        chain
            .into_iter()
            .rev()
            .find(|ip| !trusted.contains(ip))
            .unwrap_or(peer),
    )
}

/// The token of an `Authorization: Bearer <token>` header, if there is one.
/// The signed-in caller of a REST request: a valid bearer token whose sign-in has not
/// ended (logout, a new role, refresh-token reuse), checked in Redis as GraphQL checks
/// it, so a revoked token fetches no ticket image and no list of voided tickets.
pub async fn signed_in(
    app: &crate::app::App,
    headers: &HeaderMap,
) -> Option<crate::auth::model::Viewer> {
    let token = crate::auth::tokens::verify(
        app.config.auth.jwt_secret.expose_secret(),
        bearer(headers)?,
        app.now(),
    )
    .ok()?;
    let ended = crate::graphql::engine::admission::sign_in_ended(app, &token).await;
    (!ended).then_some(token.viewer)
}

pub fn bearer(headers: &HeaderMap) -> Option<&str> {
    bearer_token(headers.get(header::AUTHORIZATION)?.to_str().ok()?)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn forwarded_for_is_believed_only_from_trusted_proxies() {
        let mut ext = Extensions::new();
        ext.insert(ConnectInfo(SocketAddr::from(([10, 0, 0, 1], 4000))));
        let mut headers = HeaderMap::new();
        headers.insert(
            "x-forwarded-for",
            "203.0.113.9, 198.51.100.7, 10.0.0.2".parse().unwrap(),
        );
        let proxy: IpAddr = "10.0.0.1".parse().unwrap();
        let inner: IpAddr = "10.0.0.2".parse().unwrap();
        assert_eq!(client_addr(&ext, &headers, &[]).0, proxy);
        assert_eq!(
            client_addr(&ext, &headers, &[proxy, inner]).0,
            "198.51.100.7".parse::<IpAddr>().unwrap()
        );
    }

    #[test]
    fn bearer_tokens() {
        let mut headers = HeaderMap::new();
        assert_eq!(bearer(&headers), None);
        headers.insert(header::AUTHORIZATION, "Bearer abc.def".parse().unwrap());
        assert_eq!(bearer(&headers), Some("abc.def"));
        headers.insert(header::AUTHORIZATION, "bearer  xyz ".parse().unwrap());
        assert_eq!(bearer(&headers), Some("xyz"));
        headers.insert(header::AUTHORIZATION, "Basic Zm9vOmJhcg==".parse().unwrap());
        assert_eq!(bearer(&headers), None);
    }
}
