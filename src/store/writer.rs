//! SQLite's one writer: the turn write transactions and single-statement writes queue for, on a
//! connection of its own, and group commit — transactions that queued behind each other share
//! one `begin immediate … commit`, each in a savepoint of its own.
//!
//! A transaction takes the turn (`begin`), joins the open group (`savepoint wN`, or
//! `begin immediate` when none is open), runs its statements and, when it commits, leaves the
//! group open for the writers queued behind it and waits. A task queued for the turn behind
//! them (the group's closer) commits the group, drops the cached reads every member's writes
//! change, and only then answers each member. A member that ends without committing leaves an
//! undo (`rollback to wN`, or the whole transaction when it was alone) that the next holder of
//! the turn runs before anything else, so a failed write takes back only itself. When an undo
//! or the commit fails, every member waiting in that group gets the error: nothing is
//! acknowledged that was not committed.
//!
//! Why: each statement costs two hand-offs to the connection's thread and back while the turn
//! is held, and under load the task woken by the answer waits its turn on the runtime; a group
//! pays `begin` and `commit` once for all its members instead of once each, a member's
//! savepoint is sent without waiting for its answer, and the connection is never taken from
//! (and tested by) the pool.

use std::sync::Arc;
use std::time::Duration;

use futures_util::FutureExt;
use sqlx::{AssertSqlSafe, SqliteConnection};
use tokio::sync::{Mutex, OwnedMutexGuard, oneshot};

use super::cache;
use crate::error::{AppError, AppResult};

/// Most transactions one commit takes (each keeps a savepoint open until then).
const MAX_GROUP: u32 = 64;

/// The writer turn: a mutex (first come, first served) over the writing connection.
pub(crate) struct Writer {
    turn: Arc<Mutex<Turn>>,
    caches: Arc<cache::Caches>,
    acquire_timeout: Duration,
}

/// What the holder of the turn holds.
pub(crate) struct Turn {
    conn: SqliteConnection,
    group: Option<Group>,
    next_group: u64,
    /// Set while a holder waits for `begin`, an undo or `commit`: still set when the next holder
    /// comes, the holder went away meanwhile and the transaction's state is unknown.
    unsure: bool,
}

/// The transaction open across its members' turns.
struct Group {
    id: u64,
    /// Members so far (member `n` joined at savepoint `w{n}`; the first opened the group).
    members: u32,
    /// Members whose work is done, waiting for the commit.
    waiting: Vec<oneshot::Sender<AppResult<()>>>,
    /// What the members' writes change; dropped from the caches after the commit.
    changes: Vec<cache::Change>,
    /// Whether a closer is queued for the turn (or running).
    closer: bool,
    /// Left by a member that ended without committing; run by the next holder of the turn.
    undo: Option<Undo>,
}

#[derive(Clone, Copy)]
enum Undo {
    /// Back to the savepoint member `n` joined at.
    To(u32),
    /// The whole transaction (its only member failed).
    All,
}

impl Writer {
    pub(crate) fn new(
        conn: SqliteConnection,
        caches: Arc<cache::Caches>,
        acquire_timeout: Duration,
    ) -> Writer {
        Writer {
            turn: Arc::new(Mutex::new(Turn { conn, group: None, next_group: 0, unsure: false })),
            caches,
            acquire_timeout,
        }
    }

    async fn lock(&self) -> Option<OwnedMutexGuard<Turn>> {
        tokio::time::timeout(self.acquire_timeout, self.turn.clone().lock_owned()).await.ok()
    }

    /// Starts a write transaction: waits for the turn (longer than for a pool connection means
    /// the database is stuck), then joins the open group or opens one.
    pub(crate) async fn begin(&self) -> AppResult<Member> {
        let mut turn = self.lock().await.ok_or_else(|| AppError::from(sqlx::Error::PoolTimedOut))?;
        settle(&mut turn).await;
        if turn.group.as_ref().is_some_and(|g| g.members >= MAX_GROUP) {
            turn = close_apart(turn, self.caches.clone()).await?;
        }
        let joined = match turn.group.as_mut() {
            Some(group) => {
                let n = group.members;
                group.members += 1;
                // Sent without waiting for the answer: the member's first statement queues
                // behind it on the connection's thread. Should it have failed (or not been sent),
                // the member's undo fails too, for want of the savepoint, and the whole group is
                // rolled back: nothing is kept of a member that did not finish. The name is the
                // member's own, so an undo never reaches back into an earlier member.
                let savepoint = sqlx::query(AssertSqlSafe(format!("savepoint w{n}"))).persistent(false);
                if let Some(Err(e)) = savepoint.execute(&mut turn.conn).now_or_never() {
                    return Err(e.into());
                }
                Some(n)
            }
            None => {
                turn.unsure = true;
                let begun = sqlx::query("begin immediate").execute(&mut turn.conn).await;
                turn.unsure = false;
                begun?;
                let id = turn.next_group;
                turn.next_group += 1;
                turn.group = Some(Group {
                    id,
                    members: 1,
                    waiting: Vec::new(),
                    changes: Vec::new(),
                    closer: false,
                    undo: None,
                });
                None
            }
        };
        Ok(Member { turn, savepoint: joined, caches: self.caches.clone(), ended: false })
    }

    /// The turn for one statement outside a transaction, with no group open (the statement runs
    /// on a pool connection, and an open group holds SQLite's write lock). Waiting longer than for
    /// a pool connection goes on without it (SQLite's own lock still serialises the write), so a
    /// caller that already holds a transaction is slowed, never stuck.
    pub(crate) async fn single(&self) -> Option<OwnedMutexGuard<Turn>> {
        let Some(mut turn) = self.lock().await else {
            tracing::debug!("no SQLite writer turn within the pool timeout; writing without it");
            return None;
        };
        settle(&mut turn).await;
        if turn.group.is_some() {
            turn = close_apart(turn, self.caches.clone()).await.ok()?;
        }
        Some(turn)
    }

    /// Commits the open group, if any (before closing the database).
    pub(crate) async fn flush(&self) {
        if let Some(mut turn) = self.lock().await {
            settle(&mut turn).await;
            finish(&mut turn, &self.caches).await.ok();
        }
    }
}

/// One transaction's part of a group; holds the turn until it ends.
pub(crate) struct Member {
    turn: OwnedMutexGuard<Turn>,
    /// The savepoint it joined at (`None`: it opened the group).
    savepoint: Option<u32>,
    caches: Arc<cache::Caches>,
    ended: bool,
}

impl Member {
    pub(crate) fn conn(&mut self) -> &mut SqliteConnection {
        &mut self.turn.conn
    }

    /// Ends this member's work and waits until the group it wrote in is committed; `changes`
    /// are dropped from the caches after that commit.
    pub(crate) async fn commit(mut self, changes: Vec<cache::Change>) -> AppResult<()> {
        let Some(group) = self.turn.group.as_mut() else {
            return Err(AppError::internal("SQLite write transaction without its group"));
        };
        group.changes.extend(changes);
        let (answer, answered) = oneshot::channel();
        group.waiting.push(answer);
        let closer = !std::mem::replace(&mut group.closer, true);
        let id = group.id;
        self.ended = true;
        if closer {
            spawn_closer(&self.turn, id, self.caches.clone());
        }
        drop(self);
        answered.await.unwrap_or_else(|_| Err(AppError::internal("SQLite group commit abandoned")))
    }
}

impl Drop for Member {
    /// Ended without a commit (an error, or the request went away): the next holder of the turn
    /// takes this member's writes back.
    fn drop(&mut self) {
        if self.ended {
            return;
        }
        let savepoint = self.savepoint;
        let Some(group) = self.turn.group.as_mut() else { return };
        group.undo = Some(match savepoint {
            Some(n) => Undo::To(n),
            None => Undo::All,
        });
        if !std::mem::replace(&mut group.closer, true) {
            let id = group.id;
            spawn_closer(&self.turn, id, self.caches.clone());
        }
    }
}

/// Queues a task for the turn that commits group `id` if it is still open then.
fn spawn_closer(turn: &OwnedMutexGuard<Turn>, id: u64, caches: Arc<cache::Caches>) {
    let mutex = OwnedMutexGuard::mutex(turn).clone();
    let Ok(runtime) = tokio::runtime::Handle::try_current() else { return };
    runtime.spawn(async move {
        let mut turn = mutex.lock_owned().await;
        settle(&mut turn).await;
        if turn.group.as_ref().is_some_and(|g| g.id == id) {
            finish(&mut turn, &caches).await.ok();
        }
    });
}

/// Commits the open group in a task of its own (a caller that goes away meanwhile cannot leave
/// its members unanswered) and hands the turn back.
async fn close_apart(
    mut turn: OwnedMutexGuard<Turn>,
    caches: Arc<cache::Caches>,
) -> AppResult<OwnedMutexGuard<Turn>> {
    tokio::spawn(async move {
        finish(&mut turn, &caches).await.ok();
        turn
    })
    .await
    .map_err(|e| AppError::internal(format!("SQLite group commit: {e}")))
}

/// Runs the undo a member left, if any. When it fails, or the previous holder went away in the
/// middle of changing the transaction's state, the group cannot be trusted: it is rolled back and
/// its waiting members get an error.
async fn settle(turn: &mut Turn) {
    if turn.unsure {
        tracing::warn!("a SQLite write transaction was left in an unknown state; rolled back");
        sqlx::query("rollback").execute(&mut turn.conn).await.ok();
        turn.unsure = false;
        fail(turn, None);
        return;
    }
    let Some(undo) = turn.group.as_mut().and_then(|g| g.undo.take()) else { return };
    turn.unsure = true;
    let undone = match undo {
        Undo::To(n) => {
            let sql = format!("rollback to w{n}");
            sqlx::query(AssertSqlSafe(sql)).persistent(false).execute(&mut turn.conn).await
        }
        Undo::All => sqlx::query("rollback").execute(&mut turn.conn).await,
    };
    turn.unsure = false;
    match (undo, undone) {
        (Undo::To(_), Ok(_)) => {}
        (Undo::All, result) => {
            if let Err(e) = result {
                tracing::warn!(error = %e, "SQLite rollback failed");
            }
            fail(turn, None);
        }
        (Undo::To(_), Err(e)) => {
            tracing::warn!(error = %e, "SQLite rollback to a savepoint failed; the group is rolled back");
            let err = AppError::from(e);
            sqlx::query("rollback").execute(&mut turn.conn).await.ok();
            fail(turn, Some(err));
        }
    }
}

/// Drops the group, answering its waiting members with `err`.
fn fail(turn: &mut Turn, err: Option<AppError>) {
    if let Some(group) = turn.group.take() {
        let err = err.unwrap_or_else(|| AppError::internal("SQLite group rolled back"));
        for member in group.waiting {
            member.send(Err(err.clone())).ok();
        }
    }
}

/// Commits the open group, drops what its members changed from the caches (also when the
/// commit reports an error: it may have happened all the same) and answers each member.
async fn finish(turn: &mut Turn, caches: &cache::Caches) -> AppResult<()> {
    let Some(group) = turn.group.take() else { return Ok(()) };
    turn.unsure = true;
    let committed = sqlx::query("commit").execute(&mut turn.conn).await.map(|_| ()).map_err(AppError::from);
    if committed.is_err() {
        // Still open after a failed commit: start the next group clean.
        sqlx::query("rollback").execute(&mut turn.conn).await.ok();
    }
    turn.unsure = false;
    caches.apply_all(&group.changes);
    for member in group.waiting {
        member.send(committed.clone()).ok();
    }
    committed
}
