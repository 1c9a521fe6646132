//! Fault injection: random throttling (429 + `Retry-After`), server errors (500/503/504), "lost"
//! responses (the write is committed, the client only sees a 504 gateway timeout — what a client
//! really gets when Graph's front door gives up on a slow backend), latency, and one-shot rules
//! ("fail the next N GETs under path P in tenant T with status S") so a test can break exactly one read.
//!
//! Randomness comes from a seeded RNG so a failing run can be replayed with the same `--fault-seed`.

use rand::{Rng, SeedableRng, rngs::StdRng};
use serde::{Deserialize, Serialize};
use uuid::Uuid;

/// A rule that fails (or holds up) the next `count` matching requests.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct OneShot {
    /// HTTP method to match (`GET`, `POST`, …); `None` = any.
    #[serde(default)]
    pub method: Option<String>,
    /// Path prefix to match, e.g. `/v1.0/groups`.
    pub path_prefix: String,
    /// Tenant to match (the token's `tid`); `None` = any.
    #[serde(default)]
    pub tenant: Option<Uuid>,
    /// Status to answer with before touching state; `None` with `hold_ms` = serve it, slowly.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub status: Option<u16>,
    /// Keep the request's tenant busy this long before serving it (a slow backend): other
    /// requests to that tenant wait for it, requests to other tenants do not.
    #[serde(default, skip_serializing_if = "is_zero")]
    pub hold_ms: u64,
    pub count: u32,
    /// Let this many matching requests through first (e.g. 1 = fail the second page).
    #[serde(default)]
    pub after: u32,
}

/// A rule that slows the next `count` matching requests (token requests too) by `delay_ms`
/// before they are served, holding nothing else up: a slow backend for one kind of request.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct Delay {
    /// HTTP method to match; `None` = any.
    #[serde(default)]
    pub method: Option<String>,
    /// Path prefix to match, e.g. `/v1.0/policies` or `/{tenant}/oauth2/v2.0/token`.
    pub path_prefix: String,
    /// Tenant to match (the token's `tid`, or the tenant a token is asked for); `None` = any.
    #[serde(default)]
    pub tenant: Option<Uuid>,
    pub delay_ms: u64,
    pub count: u32,
}

fn is_zero(v: &u64) -> bool {
    *v == 0
}

/// Run-time adjustable settings (`PUT /_sandbox/faults`).
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct FaultConfig {
    pub rate_429: f64,
    pub rate_5xx: f64,
    pub rate_lost: f64,
    pub latency_ms: u64,
    pub replication_delay_ms: u64,
    pub page_size: usize,
    pub retry_after_secs: u64,
    #[serde(default)]
    pub one_shots: Vec<OneShot>,
    #[serde(default)]
    pub delays: Vec<Delay>,
}

/// What the fault layer decided for one request.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Decision {
    Pass,
    /// Answer with this status before touching state.
    Fail(u16),
    /// Execute, then hide the answer behind a 504.
    Lose,
    /// Hold the request's tenant this many milliseconds, then execute.
    Hold(u64),
}

pub struct Faults {
    pub config: FaultConfig,
    rng: StdRng,
}

impl Faults {
    pub fn new(config: FaultConfig, seed: u64) -> Faults {
        Faults {
            config,
            rng: StdRng::seed_from_u64(seed),
        }
    }

    /// Decides the fate of a request. Writes may be lost; any request may be throttled or fail.
    pub(crate) fn decide(&mut self, method: &str, path: &str, tenant: Option<Uuid>) -> Decision {
        if let Some(rule) = self.config.one_shots.iter_mut().find(|r| {
            r.count > 0
                && r.method
                    .as_deref()
                    .is_none_or(|m| m.eq_ignore_ascii_case(method))
                && path.starts_with(&r.path_prefix)
                && r.tenant.is_none_or(|t| Some(t) == tenant)
        }) {
            if rule.after > 0 {
                rule.after -= 1;
                return self.random(method);
            }
            rule.count -= 1;
            let decision = match rule.status {
                Some(status) => Decision::Fail(status),
                None => Decision::Hold(rule.hold_ms),
            };
            self.config.one_shots.retain(|r| r.count > 0);
            return decision;
        }
        self.random(method)
    }

    /// The extra delay for a request, from the first matching [`Delay`] rule (which it uses up).
    pub fn delay_for(&mut self, method: &str, path: &str, tenant: Option<Uuid>) -> u64 {
        let Some(rule) = self.config.delays.iter_mut().find(|r| {
            r.count > 0
                && r.method
                    .as_deref()
                    .is_none_or(|m| m.eq_ignore_ascii_case(method))
                && path.starts_with(&r.path_prefix)
                && r.tenant.is_none_or(|t| Some(t) == tenant)
        }) else {
            return 0;
        };
        rule.count -= 1;
        let ms = rule.delay_ms;
        self.config.delays.retain(|r| r.count > 0);
        ms
    }

    fn random(&mut self, method: &str) -> Decision {
        let roll: f64 = self.rng.random();
        if roll < self.config.rate_429 {
            return Decision::Fail(429);
        }
        let roll: f64 = self.rng.random();
        if roll < self.config.rate_5xx {
            let which = self.rng.random_range(0..3);
            return Decision::Fail([500, 503, 504][which]);
        }
        let roll: f64 = self.rng.random();
        if method != "GET" && roll < self.config.rate_lost {
            return Decision::Lose;
        }
        Decision::Pass
    }
}
