//! GraphQL over HTTP, with failures reduced to a code for the report.

use std::time::Duration;

use serde::Deserialize;
use serde::de::DeserializeOwned;
use serde_json::{Value, json};

const LOCK: &str = "mutation ($s: ID!, $n: [String!]!) { lockSeats(input: {showtimeId: $s, seatNumbers: $n}) { lockToken } }";

#[derive(Clone)]
pub struct Api {
    http: reqwest::Client,
    base: String,
    endpoint: String,
}

/// What went wrong, as the report counts it: the GraphQL error code, `HTTP_<status>`,
/// or `NETWORK`. `seats` carries `extensions.seats` of a SEATS_UNAVAILABLE.
#[derive(Debug, Clone)]
pub struct Failure {
    pub code: String,
    pub message: String,
    pub seats: Vec<String>,
}

impl Failure {
    fn new(code: impl Into<String>, message: impl Into<String>) -> Self {
        Self {
            code: code.into(),
            message: message.into(),
            seats: Vec::new(),
        }
    }
}

impl std::fmt::Display for Failure {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}: {}", self.code, self.message)
    }
}

impl Api {
    pub fn new(base: &str, connections: usize) -> anyhow::Result<Self> {
        let http = reqwest::Client::builder()
            .pool_max_idle_per_host(connections.max(1))
            .tcp_nodelay(true)
            .timeout(Duration::from_secs(30))
            .build()?;
        Ok(Self {
            http,
            base: base.to_owned(),
            endpoint: format!("{base}/graphql"),
        })
    }

    /// A counter of the server's `/metrics` (`screema_<name>_total`).
    pub async fn counter(&self, name: &str) -> anyhow::Result<f64> {
        let text = self
            .http
            .get(format!("{}/metrics", self.base))
            .send()
            .await?
            .error_for_status()?
            .text()
            .await?;
        let series = format!("screema_{name}_total ");
        text.lines()
            .find_map(|l| l.strip_prefix(&series))
            .and_then(|v| v.trim().parse().ok())
            .ok_or_else(|| anyhow::anyhow!("no counter {series} in /metrics"))
    }

    /// A query without parsing its answer: its size, once the status is 200 and the
    /// body has no `errors` entry. For legs that compare servers, where parsing 24 KiB
    /// answers would make the client the limit.
    pub async fn gql_unparsed(&self, query: &str) -> Result<usize, Failure> {
        let request = self
            .http
            .post(&self.endpoint)
            .json(&json!({ "query": query }));
        let body = body_of(request).await?;
        let body = body.as_ref();
        if body.windows(8).any(|w| w == b"\"errors\"") {
            return Err(Failure::new("GRAPHQL_ERROR", String::from_utf8_lossy(body)));
        }
        Ok(body.len())
    }

    /// A GraphQL request, with `token`'s bearer when given.
    fn post(&self, token: Option<&str>, query: &str, variables: Value) -> reqwest::RequestBuilder {
        let request = self
            .http
            .post(&self.endpoint)
            .json(&json!({ "query": query, "variables": variables }));
        match token {
            Some(token) => request.bearer_auth(token),
            None => request,
        }
    }

    pub async fn gql(
        &self,
        token: Option<&str>,
        query: &str,
        variables: Value,
    ) -> Result<Value, Failure> {
        let response = self
            .post(token, query, variables)
            .send()
            .await
            .map_err(|e| Failure::new("NETWORK", e.to_string()))?;
        let status = response.status();
        let mut body: Value = response
            .json()
            .await
            .map_err(|e| Failure::new(format!("HTTP_{}", status.as_u16()), e.to_string()))?;
        if let Some(error) = body["errors"].as_array().and_then(|e| e.first()) {
            return Err(failure_of(error));
        }
        if !status.is_success() {
            return Err(Failure::new(
                format!("HTTP_{}", status.as_u16()),
                body.to_string(),
            ));
        }
        Ok(body.get_mut("data").map(Value::take).unwrap_or_default())
    }

    /// As `gql`, with the answer's `data` read straight into `T` rather than into a
    /// `Value` tree first: for answers a scenario reads by the thousand (seat maps),
    /// where building the tree made the client the limit.
    pub async fn gql_typed<T: DeserializeOwned>(
        &self,
        token: Option<&str>,
        query: &str,
        variables: Value,
    ) -> Result<T, Failure> {
        #[derive(Deserialize)]
        struct Answer<T> {
            data: Option<T>,
            #[serde(default)]
            errors: Vec<Value>,
        }
        let response = self
            .post(token, query, variables)
            .send()
            .await
            .map_err(|e| Failure::new("NETWORK", e.to_string()))?;
        let status = response.status();
        let bytes = response
            .bytes()
            .await
            .map_err(|e| Failure::new("NETWORK", e.to_string()))?;
        let answer: Answer<T> = serde_json::from_slice(&bytes)
            .map_err(|e| Failure::new(format!("HTTP_{}", status.as_u16()), e.to_string()))?;
        if let Some(error) = answer.errors.first() {
            return Err(failure_of(error));
        }
        match answer.data {
            Some(data) if status.is_success() => Ok(data),
            _ => Err(Failure::new(
                format!("HTTP_{}", status.as_u16()),
                String::from_utf8_lossy(&bytes),
            )),
        }
    }

    /// `lockSeats` as `token`'s user: the lock token, or why not.
    pub async fn lock(
        &self,
        token: &str,
        showtime: &str,
        seats: &[String],
    ) -> Result<String, Failure> {
        let data = self
            .gql(Some(token), LOCK, json!({"s": showtime, "n": seats}))
            .await?;
        data["lockSeats"]["lockToken"]
            .as_str()
            .map(str::to_owned)
            .ok_or_else(|| Failure::new("BAD_ANSWER", data.to_string()))
    }

    /// A plain GET, for the HTTP ceiling; returns the body's length.
    pub async fn get(&self, path: &str) -> Result<usize, Failure> {
        let request = self.http.get(format!("{}{path}", self.base));
        Ok(body_of(request).await?.as_ref().len())
    }
}

/// The body of a successful answer, or the failure as the report counts it.
async fn body_of(request: reqwest::RequestBuilder) -> Result<impl AsRef<[u8]>, Failure> {
    let response = request
        .send()
        .await
        .map_err(|e| Failure::new("NETWORK", e.to_string()))?;
    let status = response.status();
    let body = response
        .bytes()
        .await
        .map_err(|e| Failure::new("NETWORK", e.to_string()))?;
    if !status.is_success() {
        return Err(Failure::new(format!("HTTP_{}", status.as_u16()), ""));
    }
    Ok(body)
}

/// A GraphQL error as the report counts it: its code, and the seats it names.
fn failure_of(error: &Value) -> Failure {
    let code = error["extensions"]["code"]
        .as_str()
        .unwrap_or("GRAPHQL_ERROR")
        .to_owned();
    let mut failure = Failure::new(code, error["message"].as_str().unwrap_or(""));
    if let Some(seats) = error["extensions"]["seats"].as_array() {
        failure.seats = seats
            .iter()
            .filter_map(|s| s.as_str().map(str::to_owned))
            .collect();
    }
    failure
}
