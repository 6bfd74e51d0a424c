//! The kiosks of `api-tuesday`: registered and enrolled as real ones are,
//! each sends signed taps of the synthetic campus's cards, each tap with
//! its monotonic reading and the sync point its enrolment answer gave, in
//! a batch a second, as a hall's kiosk online does.

use std::sync::Arc;
use std::time::{Duration, Instant};

use anyhow::{Context, bail};
use chrono::{SecondsFormat, Utc};
use lectern_domain::{CardUid, Slug};
use lectern_kiosk_protocol::{
    BatchResponse, EnrolRequest, EnrolResponse, HEADER_SIGNATURE, KioskKey, MonoReading, Stamp,
    SyncPoint, Tap, TapBatch,
};
use lectern_synth::bulk::{Synth, card_of};
use serde_json::{Value, json};

use crate::api::Client;

pub(crate) struct Tapper {
    client: Client,
    key: KioskKey,
    kiosk: Slug,
    venue: Slug,
    cards: Vec<CardUid>,
    /// The monotonic clock counts from here, in boot 1.
    booted: Instant,
    sync: SyncPoint,
}

impl Tapper {
    /// Registers kiosk `bench-tuesday-<n>` (with the administrator
    /// `token`) and enrols it.
    pub(crate) async fn enrol(
        addr: std::net::SocketAddr,
        token: &str,
        synth: &Arc<Synth>,
        n: usize,
    ) -> anyhow::Result<Tapper> {
        let kiosk = Slug::parse(&format!("bench-tuesday-{n}"))?;
        let mut client = Client::connect(addr, token.to_owned()).await?;
        let registered = client
            .send(
                "/graphql",
                &[("authorization", format!("Bearer {token}"))],
                serde_json::to_vec(&json!({
                    "query": "mutation($id: String!) {
                        registerKiosk(id: $id, venue: \"bench-hall\") { code } }",
                    "variables": { "id": kiosk.as_str() },
                }))?,
            )
            .await?;
        let registered: Value = serde_json::from_slice(&registered)?;
        let code = registered["data"]["registerKiosk"]["code"]
            .as_str()
            .with_context(|| format!("registering the bench kiosk: {registered}"))?;
        let key = KioskKey::generate()?;
        let booted = Instant::now();
        let enrolled = client
            .send(
                "/kiosk/v1/enrol",
                &[],
                serde_json::to_vec(&EnrolRequest {
                    kiosk: kiosk.clone(),
                    code: code.to_owned(),
                    public_key: key.public_hex(),
                    version: "bench".into(),
                })?,
            )
            .await?;
        let enrolled: EnrolResponse = serde_json::from_slice(&enrolled)?;
        Ok(Tapper {
            client,
            key,
            kiosk,
            venue: enrolled.venue,
            cards: synth
                .people
                .iter()
                .map(card_of)
                .collect::<anyhow::Result<_>>()?,
            booted,
            sync: SyncPoint {
                boot: 1,
                mono_us: 0,
                server_time: enrolled.server_time,
            },
        })
    }

    fn reading(&self) -> MonoReading {
        MonoReading {
            boot: 1,
            mono_us: u64::try_from(self.booted.elapsed().as_micros()).unwrap_or(u64::MAX),
        }
    }

    /// Sends a batch of `per_batch` taps a second until `until`; returns
    /// how many were recorded and each batch's latency.
    pub(crate) async fn run(
        mut self,
        per_batch: u64,
        until: Instant,
    ) -> anyhow::Result<(u64, Vec<Duration>)> {
        let mut tick = tokio::time::interval(Duration::from_secs(1));
        let (mut counter, mut sent, mut took) = (0u64, 0u64, Vec::new());
        while Instant::now() < until {
            tick.tick().await;
            let taps = (0..per_batch)
                .map(|_| {
                    counter += 1;
                    let card = self.cards[(counter as usize * 7919) % self.cards.len()].clone();
                    let tap = Tap::new(
                        self.kiosk.clone(),
                        self.venue.clone(),
                        card,
                        counter,
                        Utc::now(),
                    )
                    .with_clock(self.reading());
                    self.key.sign_tap(tap)
                })
                .collect();
            let body = serde_json::to_vec(&TapBatch {
                taps,
                sync: vec![self.sync],
            })?;
            let stamp = Stamp {
                kiosk: self.kiosk.as_str().to_owned(),
                time: Utc::now().to_rfc3339_opts(SecondsFormat::Millis, true),
                clock: self.reading(),
                sync: Some(self.sync),
            };
            let mut headers = stamp.headers();
            headers.push((
                HEADER_SIGNATURE,
                self.key
                    .sign_request("POST", "/kiosk/v1/taps", &stamp, &body),
            ));
            let t0 = Instant::now();
            let answer = self.client.send("/kiosk/v1/taps", &headers, body).await?;
            took.push(t0.elapsed());
            let answer: BatchResponse = serde_json::from_slice(&answer)?;
            if let Some(r) = answer.results.iter().find(|r| r.refused.is_some()) {
                bail!("the server refused a bench tap: {:?}", r.refused);
            }
            sent += answer.results.len() as u64;
        }
        Ok((sent, took))
    }
}
