//! Short-lived copies of the hottest reads: the account row behind a session token (read on
//! every authenticated request), pages of a user's chat list, the stored models with their
//! grants (read by every `/api/models`, every completion and the workspace list) and the names,
//! roles and emails of those models' owners (the workspace list).
//!
//! Correctness rests on one rule: every store function that writes a table behind a cached read
//! declares it (`Exec::changes`), and the copies it affects are dropped once the write is visible
//! (right after the statement outside a transaction, after the commit inside one). A read that
//! was in flight while such a write happened is not kept: each cache has an epoch that every
//! invalidation advances, and a read is only stored under the epoch it started in. So this process
//! never serves anything older than its own writes. With several instances on PostgreSQL and
//! Redis, every change is also announced to the other instances, which drop their copies when the
//! message arrives (`cache_sync`); an instance that cannot hear the others stops using its caches
//! (`Caches::suspend`). Whatever happens to a message, no entry is served for longer than the
//! cache's time to live.

use std::collections::HashMap;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, OnceLock, RwLock};
use std::time::{Duration, Instant};

use super::auths::SessionRow;
use super::chats::TitlePage;
use super::models::{OwnerRow, StoredModels};

/// What a write changes (also what travels to the other instances, see `cache_sync`).
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Change {
    /// A user's account: profile, role, credentials, revoked tokens.
    Account(String),
    /// Chats (titles, flags, tags, shares) of one user, or of anyone (`None`).
    Chats(Option<String>),
    /// Group memberships (any): whether a user is in a group is part of their session row. A
    /// group's deletion is declared so too, and it deletes the grants naming the group, so this
    /// also drops the stored models.
    Memberships,
    /// Stored models or model grants (any).
    Models,
    /// Anything: the database was changed behind duet's back.
    Everything,
}

/// The caches of one `Db`. A cache added here is also listed in `Caches::each`, so that it is
/// dropped and suspended with the others.
pub struct Caches {
    /// `(user id, token id)` → what a token check reads.
    pub sessions: OwnedCache<SessionRow>,
    /// `(user id, list parameters)` → a page of chat titles.
    pub chat_lists: OwnedCache<std::sync::Arc<TitlePage>>,
    /// Every stored model row with its grants, as one entry (see `models::stored`).
    pub models: OwnedCache<std::sync::Arc<StoredModels>>,
    /// `(user id, "")` → the fields of a model's owner the workspace list shows and searches
    /// (`None`: no such user); follows `models`' time to live, dropped with the user's account.
    pub model_owners: OwnedCache<Option<OwnerRow>>,
    /// Whether the database orders and lower-cases text as the workspace list does in memory
    /// (see `models::list`), probed once.
    pub(super) text_bytewise: OnceLock<bool>,
    /// Where this instance's changes are announced to the others (empty without Redis).
    links: RwLock<Vec<super::cache_sync::Link>>,
}

impl Default for Caches {
    fn default() -> Self {
        let models = OwnedCache::new(1);
        let model_owners = OwnedCache::sharing_ttl(&models, 4_000);
        Caches {
            sessions: OwnedCache::new(20_000),
            chat_lists: OwnedCache::new(4_000),
            models,
            model_owners,
            text_bytewise: OnceLock::new(),
            links: RwLock::default(),
        }
    }
}

impl Caches {
    /// Drops what `change` affects here, then announces it to the other instances. Called once the
    /// write is visible to other connections (after the statement, or after the commit).
    pub fn apply(&self, change: &Change) {
        self.apply_all(std::slice::from_ref(change));
    }

    /// `apply` for the changes of one transaction (one message to the other instances).
    pub fn apply_all(&self, changes: &[Change]) {
        if changes.is_empty() {
            return;
        }
        self.apply_here(changes);
        for link in self.links.read().unwrap_or_else(|e| e.into_inner()).iter() {
            link.announce(changes);
        }
    }

    /// Drops what `changes` affect in this process only (a change another instance announced).
    pub fn apply_here(&self, changes: &[Change]) {
        for change in changes {
            match change {
                Change::Account(user) => {
                    self.sessions.invalidate(Some(user));
                    self.model_owners.invalidate(Some(user));
                }
                Change::Chats(user) => self.chat_lists.invalidate(user.as_deref()),
                Change::Memberships => {
                    self.sessions.invalidate(None);
                    self.models.invalidate(None);
                }
                Change::Models => self.models.invalidate(None),
                Change::Everything => self.each().iter().for_each(|c| c.invalidate_all()),
            }
        }
    }

    /// Stops serving and storing entries (and drops them) until a matching `resume`: while this
    /// instance may be missing the other instances' changes. Nests.
    pub fn suspend(&self) {
        self.each().iter().for_each(|c| c.suspend());
    }

    /// Ends one `suspend`; the caches start again from empty.
    pub fn resume(&self) {
        self.each().iter().for_each(|c| c.resume());
    }

    /// Whether entries are served and stored (on, and not suspended).
    pub fn serving(&self) -> bool {
        self.each().iter().all(|c| c.serving())
    }

    pub(super) fn add_link(&self, link: super::cache_sync::Link) {
        self.links.write().unwrap_or_else(|e| e.into_inner()).push(link);
    }

    fn each(&self) -> [&dyn Gate; 4] {
        [&self.sessions, &self.chat_lists, &self.models, &self.model_owners]
    }
}

/// What `Caches` does to every cache it holds, whatever its values.
trait Gate {
    fn invalidate_all(&self);
    fn suspend(&self);
    fn resume(&self);
    fn serving(&self) -> bool;
}

impl<V: Clone> Gate for OwnedCache<V> {
    fn invalidate_all(&self) {
        self.invalidate(None);
    }

    fn suspend(&self) {
        OwnedCache::suspend(self);
    }

    fn resume(&self) {
        OwnedCache::resume(self);
    }

    fn serving(&self) -> bool {
        OwnedCache::serving(self)
    }
}

/// Values grouped by owner (a user id), each kept for at most the time to live. Bounded: when
/// `capacity` entries are held, the next insert starts over from empty.
pub struct OwnedCache<V> {
    /// Shared by caches that follow another's time to live (`sharing_ttl`).
    ttl_ms: Arc<AtomicU64>,
    capacity: usize,
    state: Mutex<State<V>>,
}

struct State<V> {
    epoch: u64,
    /// Open `suspend`s: nothing is served or stored while any is.
    suspended: usize,
    len: usize,
    owners: HashMap<String, HashMap<String, Entry<V>>>,
}

struct Entry<V> {
    read_at: Instant,
    value: V,
}

/// Permission to store a read, taken before the read started (one ticket may store several
/// values read together).
#[derive(Clone, Copy)]
pub struct Ticket {
    epoch: u64,
    read_at: Instant,
}

impl<V: Clone> OwnedCache<V> {
    pub fn new(capacity: usize) -> Self {
        OwnedCache {
            ttl_ms: Arc::new(AtomicU64::new(0)),
            capacity,
            state: Mutex::new(State { epoch: 0, suspended: 0, len: 0, owners: HashMap::new() }),
        }
    }

    /// A cache whose time to live is always `leader`'s (set through either).
    pub fn sharing_ttl<W>(leader: &OwnedCache<W>, capacity: usize) -> Self {
        OwnedCache {
            ttl_ms: leader.ttl_ms.clone(),
            capacity,
            state: Mutex::new(State { epoch: 0, suspended: 0, len: 0, owners: HashMap::new() }),
        }
    }

    /// 0 switches the cache off (and empties it).
    pub fn set_ttl(&self, ttl: Duration) {
        self.ttl_ms.store(ttl.as_millis().min(u64::MAX as u128) as u64, Ordering::Relaxed);
        self.invalidate(None);
    }

    fn ttl(&self) -> Option<Duration> {
        match self.ttl_ms.load(Ordering::Relaxed) {
            0 => None,
            ms => Some(Duration::from_millis(ms)),
        }
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, State<V>> {
        self.state.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// The stored value, if still fresh.
    pub fn get(&self, owner: &str, key: &str) -> Option<V> {
        let ttl = self.ttl()?;
        let mut state = self.lock();
        if state.suspended > 0 {
            return None;
        }
        let entries = state.owners.get_mut(owner)?;
        let entry = entries.get(key)?;
        if entry.read_at.elapsed() < ttl {
            return Some(entry.value.clone());
        }
        entries.remove(key);
        if entries.is_empty() {
            state.owners.remove(owner);
        }
        state.len -= 1;
        None
    }

    /// Take before reading what will be stored; `None` when the cache is off or suspended.
    pub fn ticket(&self) -> Option<Ticket> {
        self.ttl()?;
        let state = self.lock();
        if state.suspended > 0 {
            return None;
        }
        Some(Ticket { epoch: state.epoch, read_at: Instant::now() })
    }

    /// Keeps `value` unless something was invalidated since `ticket` was taken.
    pub fn put(&self, ticket: Ticket, owner: &str, key: String, value: V) {
        let mut state = self.lock();
        if state.epoch != ticket.epoch {
            return;
        }
        if state.len >= self.capacity {
            state.owners.clear();
            state.len = 0;
        }
        let entries = state.owners.entry(owner.to_string()).or_default();
        if entries.insert(key, Entry { read_at: ticket.read_at, value }).is_none() {
            state.len += 1;
        }
    }

    /// Drops what `owner` has (everything for `None`) and refuses reads in flight.
    pub fn invalidate(&self, owner: Option<&str>) {
        let mut state = self.lock();
        state.epoch += 1;
        match owner {
            Some(owner) => {
                if let Some(entries) = state.owners.remove(owner) {
                    state.len -= entries.len();
                }
            }
            None => Self::clear(&mut state),
        }
    }

    /// Stops serving and storing entries until a matching `resume`; drops what is held and refuses
    /// reads in flight.
    pub fn suspend(&self) {
        let mut state = self.lock();
        state.suspended += 1;
        Self::clear(&mut state);
    }

    /// Ends one `suspend`. Starts from empty, and refuses reads that began before.
    pub fn resume(&self) {
        let mut state = self.lock();
        state.suspended = state.suspended.saturating_sub(1);
        Self::clear(&mut state);
    }

    /// On (a time to live) and not suspended.
    pub fn serving(&self) -> bool {
        self.ttl().is_some() && self.lock().suspended == 0
    }

    fn clear(state: &mut State<V>) {
        state.epoch += 1;
        state.owners.clear();
        state.len = 0;
    }

    /// Entries held (tests, diagnostics).
    pub fn len(&self) -> usize {
        self.lock().len
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn cache() -> OwnedCache<u32> {
        let cache = OwnedCache::new(3);
        cache.set_ttl(Duration::from_secs(60));
        cache
    }

    #[test]
    fn a_read_is_served_until_its_owner_changes() {
        let cache = cache();
        let t = cache.ticket().expect("cache on");
        cache.put(t, "u1", "a".into(), 1);
        let t = cache.ticket().expect("cache on");
        cache.put(t, "u2", "a".into(), 2);
        assert_eq!(cache.get("u1", "a"), Some(1));
        assert_eq!(cache.get("u1", "b"), None);
        cache.invalidate(Some("u1"));
        assert_eq!(cache.get("u1", "a"), None);
        assert_eq!(cache.get("u2", "a"), Some(2));
        assert_eq!(cache.len(), 1);
        cache.invalidate(None);
        assert_eq!(cache.get("u2", "a"), None);
        assert!(cache.is_empty());
    }

    #[test]
    fn a_read_that_overlapped_a_write_is_not_kept() {
        let cache = cache();
        let t = cache.ticket().expect("cache on");
        cache.invalidate(Some("someone else"));
        cache.put(t, "u1", "a".into(), 1);
        assert_eq!(cache.get("u1", "a"), None);
    }

    #[test]
    fn entries_expire_and_a_zero_ttl_turns_the_cache_off() {
        let cache = cache();
        cache.set_ttl(Duration::from_millis(30));
        let t = cache.ticket().expect("cache on");
        cache.put(t, "u1", "a".into(), 1);
        assert_eq!(cache.get("u1", "a"), Some(1));
        std::thread::sleep(Duration::from_millis(40));
        assert_eq!(cache.get("u1", "a"), None);
        assert!(cache.is_empty());
        cache.set_ttl(Duration::ZERO);
        assert!(cache.ticket().is_none());
    }

    #[test]
    fn a_full_cache_starts_over() {
        let cache = cache();
        for (i, owner) in ["a", "b", "c", "d"].into_iter().enumerate() {
            let t = cache.ticket().expect("cache on");
            cache.put(t, owner, "k".into(), i as u32);
        }
        assert_eq!(cache.len(), 1);
        assert_eq!(cache.get("d", "k"), Some(3));
        assert_eq!(cache.get("a", "k"), None);
    }
}
