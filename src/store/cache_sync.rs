//! Keeps the read caches of several instances coherent: every change applied here is announced on
//! a bus (Redis pub/sub), and the changes the other instances announce are applied here.
//!
//! The promise, and why it holds:
//! - A change is announced after it is visible (after the statement or the commit, as it is
//!   dropped locally), so an instance that drops its copies on the message cannot read the old
//!   value again afterwards; a read that was in flight when the message arrived is not stored (the
//!   cache epochs). Another instance's write therefore shows here as soon as its message arrives:
//!   the Redis delivery latency.
//! - Redis pub/sub delivers at most once. While this instance's subscription is down, including
//!   at start-up before the first subscription, the caches are suspended (nothing served, nothing
//!   stored), and whenever the link changes they start over from empty, since messages may have
//!   been missed in between. A lagging local subscriber starts over the same way.
//! - A message lost while both links stay up (the publishing instance's Redis commands failing)
//!   leaves an entry stale until its time to live ends: the TTL is the hard bound.

use std::sync::{Arc, Weak};

use serde::{Deserialize, Serialize};
use tokio::sync::{broadcast, oneshot, watch};

use super::cache::{Caches, Change};
use crate::bus::Bus;

/// The changes of one write, as announced to the other instances.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Invalidation {
    /// The link that announced them (its own messages also come back to it from the local bus).
    source: u64,
    changes: Vec<Change>,
}

/// One bus a `Caches` announces its changes on. Dropping it (with the caches) ends its listener.
pub(crate) struct Link {
    source: u64,
    bus: Arc<Bus<Invalidation>>,
    _alive: oneshot::Sender<()>,
}

impl Link {
    pub(crate) fn announce(&self, changes: &[Change]) {
        self.bus.publish(Invalidation { source: self.source, changes: changes.to_vec() });
    }
}

/// Connects `caches` to the other instances on `bus`: suspended until the bus is linked, then
/// following their changes. Spawns the listener (call within a Tokio runtime).
pub fn attach(caches: &Arc<Caches>, bus: Arc<Bus<Invalidation>>) {
    let source = rand::random();
    let (alive, gone) = oneshot::channel();
    let messages = bus.subscribe();
    let linked = bus.linked();
    // Off until the bus says it is linked (at start-up it is not yet).
    caches.suspend();
    caches.add_link(Link { source, bus, _alive: alive });
    tokio::spawn(follow(Arc::downgrade(caches), source, messages, linked, gone));
}

/// Applies the other instances' changes and suspends the caches while the link is down.
async fn follow(
    caches: Weak<Caches>,
    source: u64,
    mut messages: broadcast::Receiver<Arc<Invalidation>>,
    mut linked: watch::Receiver<bool>,
    mut gone: oneshot::Receiver<()>,
) {
    // Suspended by `attach`; `up` says whether this listener has resumed them.
    let mut up = false;
    // Whether the link can still change (a local bus's never does: it is linked for good).
    let mut watching = true;
    if *linked.borrow_and_update() {
        let Some(caches) = caches.upgrade() else { return };
        caches.resume();
        up = true;
    }
    loop {
        tokio::select! {
            message = messages.recv() => {
                let Some(caches) = caches.upgrade() else { return };
                match message {
                    Ok(message) if message.source != source => caches.apply_here(&message.changes),
                    Ok(_) => {}
                    Err(broadcast::error::RecvError::Lagged(missed)) => {
                        tracing::warn!(missed, "cache invalidations were missed; the caches start over");
                        caches.apply_here(&[Change::Everything]);
                    }
                    Err(broadcast::error::RecvError::Closed) => {
                        // The bus is gone: nothing will be heard again.
                        if up {
                            caches.suspend();
                        }
                        return;
                    }
                }
            }
            changed = linked.changed(), if watching => {
                let Some(caches) = caches.upgrade() else { return };
                if changed.is_err() {
                    // The link keeps its last state.
                    watching = false;
                    continue;
                }
                // The link may have gone down and up again since the last look: start over in
                // any case.
                let now = *linked.borrow_and_update();
                match (up, now) {
                    (false, true) => caches.resume(),
                    (true, false) => {
                        tracing::warn!("not hearing the other instances: the read caches are off until linked again");
                        caches.suspend();
                    }
                    _ => caches.apply_here(&[Change::Everything]),
                }
                if now && !up {
                    tracing::info!("hearing the other instances again: the read caches are on");
                }
                up = now;
            }
            _ = &mut gone => return,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::Duration;

    fn caches_on() -> Arc<Caches> {
        let caches = Arc::new(Caches::default());
        caches.sessions.set_ttl(Duration::from_secs(60));
        caches.chat_lists.set_ttl(Duration::from_secs(60));
        caches.models.set_ttl(Duration::from_secs(60));
        caches
    }

    fn put(caches: &Caches, owner: &str) {
        let t = caches.chat_lists.ticket().expect("serving");
        caches.chat_lists.put(t, owner, "page".into(), Default::default());
    }

    async fn until(what: impl Fn() -> bool) {
        for _ in 0..400 {
            if what() {
                return;
            }
            tokio::time::sleep(Duration::from_millis(5)).await;
        }
        panic!("condition not reached in 2 s");
    }

    fn other(changes: Vec<Change>) -> Invalidation {
        Invalidation { source: 0, changes }
    }

    #[tokio::test]
    async fn changes_from_elsewhere_are_applied_and_own_ones_skipped() {
        let caches = caches_on();
        let bus = Arc::new(Bus::local());
        attach(&caches, bus.clone());
        until(|| caches.serving()).await;
        // A change made here: dropped here at once, announced, and its echo on the local bus
        // skipped (it would drop the entry read after it).
        caches.apply(&Change::Chats(Some("u3".into())));
        put(&caches, "u3");
        put(&caches, "u1");
        put(&caches, "u2");
        // Another instance's change is applied (after the echo: the bus keeps the order).
        bus.publish(other(vec![Change::Chats(Some("u1".into()))]));
        until(|| caches.chat_lists.len() == 2).await;
        assert!(caches.chat_lists.get("u3", "page").is_some(), "the echo was skipped");
        assert!(caches.chat_lists.get("u2", "page").is_some());
        bus.publish(other(vec![Change::Everything]));
        until(|| caches.chat_lists.is_empty()).await;
    }

    #[tokio::test]
    async fn a_model_change_from_elsewhere_drops_the_stored_models() {
        let caches = caches_on();
        let bus = Arc::new(Bus::local());
        attach(&caches, bus.clone());
        until(|| caches.serving()).await;
        let t = caches.models.ticket().expect("serving");
        caches.models.put(t, "", String::new(), Default::default());
        put(&caches, "u1");
        bus.publish(other(vec![Change::Models]));
        until(|| caches.models.is_empty()).await;
        assert_eq!(caches.chat_lists.len(), 1, "only the models go");
    }

    #[tokio::test]
    async fn a_read_in_flight_when_a_change_arrives_is_not_kept() {
        let caches = caches_on();
        let bus = Arc::new(Bus::local());
        attach(&caches, bus.clone());
        until(|| caches.serving()).await;
        put(&caches, "u2");
        let in_flight = caches.chat_lists.ticket().expect("serving");
        bus.publish(other(vec![Change::Chats(Some("u2".into()))]));
        until(|| caches.chat_lists.is_empty()).await;
        caches.chat_lists.put(in_flight, "u1", "page".into(), Default::default());
        assert!(caches.chat_lists.is_empty(), "read before the change arrived, so not kept");
    }

    #[tokio::test]
    async fn caches_stay_off_while_the_bus_cannot_subscribe() {
        let caches = caches_on();
        let redis =
            crate::kv::Redis::new("redis://127.0.0.1:1", "t", Duration::from_millis(50)).expect("url");
        let bus = Arc::new(Bus::shared(&Arc::new(redis), "invalidate"));
        attach(&caches, bus);
        assert!(!caches.serving());
        assert!(caches.chat_lists.ticket().is_none());
        assert!(caches.sessions.ticket().is_none());
    }
}
