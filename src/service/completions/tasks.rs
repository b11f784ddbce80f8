//! The registry of replies running as tasks (`background`): each task's id, chat and user, and
//! the signal that stops it. Tasks live in the process that runs them; with Redis, each one is
//! also recorded there (the reference's keys `<prefix>:tasks`, `<prefix>:tasks:{id}` with a
//! time to live renewed while it runs, `<prefix>:tasks:item:{chat_id}`), so that every instance
//! lists the same tasks, and a stop is published on the bus (`<prefix>:tasks:stop`) to reach the
//! instance that runs the task.

use std::collections::HashMap;
use std::sync::{Arc, Mutex, Weak};
use std::time::Duration;

use serde::{Deserialize, Serialize};
use tokio::sync::{broadcast, watch};

use crate::bus::Bus;
use crate::kv::Redis;

/// How long a stop waits for a task of this instance to store its reply.
const STOP_WAIT: Duration = Duration::from_secs(10);

/// One running task of this instance.
struct Running {
    chat_id: String,
    user_id: String,
    stop: watch::Sender<bool>,
    /// Turns `true` once the task has stored its reply.
    ended: watch::Receiver<bool>,
}

/// A stop, as it travels between instances.
#[derive(Debug, Clone, Serialize, Deserialize)]
struct Stop {
    task_id: String,
}

/// A task of a chat and who runs it (`None` when another instance runs it and Redis does not
/// say).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TaskInfo {
    pub id: String,
    pub user_id: Option<String>,
}

/// What stopping a task did (the reference's `{status, message}`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Stopped {
    pub status: bool,
    pub message: String,
}

/// The tasks of this instance and, with Redis, of the deployment.
pub struct Tasks {
    running: Mutex<HashMap<String, Running>>,
    redis: Option<Arc<Redis>>,
    ttl: Option<Duration>,
    stops: Bus<Stop>,
}

/// A task's place in the registry, held by the task while it runs.
pub struct Registration {
    pub task_id: String,
    /// Turns `true` when the task is to stop.
    pub stop: watch::Receiver<bool>,
    ended: watch::Sender<bool>,
}

impl Tasks {
    /// The registry; with `redis`, shared with the other instances (`ttl`: `REDIS_TASK_TTL`).
    /// Spawns the stop listener and the renewal of the Redis entries (call within a runtime).
    pub fn new(redis: Option<Arc<Redis>>, ttl: Option<Duration>) -> Arc<Tasks> {
        let stops = match &redis {
            Some(redis) => Bus::shared(redis, "tasks:stop"),
            None => Bus::local(),
        };
        let tasks = Arc::new(Tasks { running: Mutex::default(), redis, ttl, stops });
        tokio::spawn(listen(Arc::downgrade(&tasks), tasks.stops.subscribe()));
        if tasks.redis.is_some()
            && let Some(ttl) = ttl
        {
            tokio::spawn(renew(Arc::downgrade(&tasks), ttl));
        }
        tasks
    }

    fn running(&self) -> std::sync::MutexGuard<'_, HashMap<String, Running>> {
        self.running.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// Records a new task of `chat_id` run by `user_id`.
    pub async fn register(&self, chat_id: &str, user_id: &str) -> Registration {
        let task_id = uuid::Uuid::new_v4().to_string();
        let (stop_tx, stop) = watch::channel(false);
        let (ended, ended_rx) = watch::channel(false);
        self.running().insert(
            task_id.clone(),
            Running { chat_id: chat_id.into(), user_id: user_id.into(), stop: stop_tx, ended: ended_rx },
        );
        if let Some(redis) = &self.redis {
            let (key, all, owners, item) =
                (self.key(&task_id), redis.key("tasks"), redis.key("tasks:owner"), self.item_key(chat_id));
            let ttl = self.ttl;
            let (id, chat, user) = (task_id.clone(), chat_id.to_string(), user_id.to_string());
            let _: Option<()> = redis
                .run("task registration", |mut c| async move {
                    let mut pipe = redis::pipe();
                    let set = pipe.cmd("SET").arg(&key).arg("1");
                    if let Some(ttl) = ttl {
                        set.arg("EX").arg(ttl.as_secs());
                    }
                    set.ignore();
                    pipe.cmd("HSET").arg(&all).arg(&id).arg(&chat).ignore();
                    pipe.cmd("HSET").arg(&owners).arg(&id).arg(&user).ignore();
                    pipe.cmd("SADD").arg(&item).arg(&id).ignore();
                    pipe.query_async(&mut c).await
                })
                .await;
        }
        Registration { task_id, stop, ended }
    }

    /// Takes a finished task off the registry.
    pub async fn end(&self, registration: Registration) {
        let Registration { task_id, ended, .. } = registration;
        let chat_id = self.running().remove(&task_id).map(|r| r.chat_id);
        let _ = ended.send(true);
        if let Some(chat_id) = chat_id {
            self.forget(&task_id, Some(&chat_id)).await;
        }
    }

    /// Removes a task's Redis entries.
    async fn forget(&self, task_id: &str, chat_id: Option<&str>) {
        let Some(redis) = &self.redis else { return };
        let (key, all, owners) = (self.key(task_id), redis.key("tasks"), redis.key("tasks:owner"));
        let item = chat_id.map(|c| self.item_key(c));
        let _: Option<()> = redis
            .run("task cleanup", |mut c| async move {
                let mut pipe = redis::pipe();
                pipe.cmd("DEL").arg(&key).ignore();
                pipe.cmd("HDEL").arg(&all).arg(task_id).ignore();
                pipe.cmd("HDEL").arg(&owners).arg(task_id).ignore();
                if let Some(item) = &item {
                    pipe.cmd("SREM").arg(item).arg(task_id).ignore();
                }
                pipe.query_async(&mut c).await
            })
            .await;
    }

    fn key(&self, task_id: &str) -> String {
        self.redis.as_ref().map(|r| r.key(&format!("tasks:{task_id}"))).unwrap_or_default()
    }

    fn item_key(&self, chat_id: &str) -> String {
        self.redis.as_ref().map(|r| r.key(&format!("tasks:item:{chat_id}"))).unwrap_or_default()
    }

    /// This instance's tasks of `chat_id`, oldest id order aside (sorted for a stable answer).
    fn local_of(&self, chat_id: &str) -> Vec<TaskInfo> {
        let mut tasks: Vec<TaskInfo> = self
            .running()
            .iter()
            .filter(|(_, r)| r.chat_id == chat_id)
            .map(|(id, r)| TaskInfo { id: id.clone(), user_id: Some(r.user_id.clone()) })
            .collect();
        tasks.sort_by(|a, b| a.id.cmp(&b.id));
        tasks
    }

    /// The running tasks of `chat_id` (every instance's, with Redis; this one's when Redis does
    /// not answer). Entries whose instance stopped renewing them are dropped.
    pub async fn of_chat(&self, chat_id: &str) -> Vec<TaskInfo> {
        let Some(redis) = &self.redis else { return self.local_of(chat_id) };
        let item = self.item_key(chat_id);
        let ids: Option<Vec<String>> = redis
            .run(
                "task list",
                |mut c| async move { redis::cmd("SMEMBERS").arg(&item).query_async(&mut c).await },
            )
            .await;
        let Some(mut ids) = ids else { return self.local_of(chat_id) };
        ids.sort();
        let ids = self.alive(ids, Some(chat_id)).await;
        let owners = self.owners(&ids).await;
        ids.into_iter().zip(owners).map(|(id, user_id)| TaskInfo { id, user_id }).collect()
    }

    /// Every running task id (`GET /api/tasks`).
    pub async fn all(&self) -> Vec<String> {
        let local = || {
            let mut ids: Vec<String> = self.running().keys().cloned().collect();
            ids.sort();
            ids
        };
        let Some(redis) = &self.redis else { return local() };
        let all = redis.key("tasks");
        let ids: Option<Vec<String>> = redis
            .run("task list", |mut c| async move { redis::cmd("HKEYS").arg(&all).query_async(&mut c).await })
            .await;
        let Some(mut ids) = ids else { return local() };
        ids.sort();
        self.alive(ids, None).await
    }

    /// The ids whose Redis entry is still renewed; the others are cleaned up.
    async fn alive(&self, ids: Vec<String>, chat_id: Option<&str>) -> Vec<String> {
        let Some(redis) = &self.redis else { return ids };
        if ids.is_empty() || self.ttl.is_none() {
            return ids;
        }
        let keys: Vec<String> = ids.iter().map(|id| self.key(id)).collect();
        let exists: Option<Vec<bool>> = redis
            .run("task list", |mut c| async move {
                let mut pipe = redis::pipe();
                for key in &keys {
                    pipe.cmd("EXISTS").arg(key);
                }
                pipe.query_async(&mut c).await
            })
            .await;
        let Some(exists) = exists else { return ids };
        let mut alive = Vec::new();
        for (id, exists) in ids.into_iter().zip(exists) {
            if exists {
                alive.push(id);
            } else {
                let chat = match chat_id {
                    Some(c) => Some(c.to_string()),
                    None => self.chat_of(&id).await,
                };
                self.forget(&id, chat.as_deref()).await;
            }
        }
        alive
    }

    async fn owners(&self, ids: &[String]) -> Vec<Option<String>> {
        let local: Vec<Option<String>> = {
            let running = self.running();
            ids.iter().map(|id| running.get(id).map(|r| r.user_id.clone())).collect()
        };
        let Some(redis) = &self.redis else { return local };
        if ids.is_empty() {
            return local;
        }
        let owners_key = redis.key("tasks:owner");
        let remote: Option<Vec<Option<String>>> = redis
            .run("task owners", |mut c| async move {
                redis::cmd("HMGET").arg(&owners_key).arg(ids).query_async(&mut c).await
            })
            .await;
        match remote {
            Some(remote) => local.into_iter().zip(remote).map(|(l, r)| l.or(r)).collect(),
            None => local,
        }
    }

    async fn chat_of(&self, task_id: &str) -> Option<String> {
        if let Some(r) = self.running().get(task_id) {
            return Some(r.chat_id.clone());
        }
        let redis = self.redis.as_ref()?;
        let all = redis.key("tasks");
        redis
            .run("task lookup", |mut c| async move {
                redis::cmd("HGET").arg(&all).arg(task_id).query_async::<Option<String>>(&mut c).await
            })
            .await
            .flatten()
    }

    /// Signals a task of this instance to stop; its end, to wait for.
    fn signal(&self, task_id: &str) -> Option<watch::Receiver<bool>> {
        let running = self.running();
        let task = running.get(task_id)?;
        let _ = task.stop.send(true);
        Some(task.ended.clone())
    }

    /// Stops task `task_id` (the reference's `stop_task`): with Redis the stop goes to every
    /// instance and the entry is removed (`Task … stopped.`); without, an unknown id is
    /// `status: false`. A task of this instance is waited for until its reply is stored.
    pub async fn stop(&self, task_id: &str) -> Stopped {
        if self.redis.is_some() {
            let chat_id = self.chat_of(task_id).await;
            let ended = self.signal(task_id);
            self.stops.publish(Stop { task_id: task_id.to_string() });
            self.forget(task_id, chat_id.as_deref()).await;
            if let Some(ended) = ended {
                wait_ended(ended).await;
            }
            return Stopped { status: true, message: format!("Task {task_id} stopped.") };
        }
        match self.signal(task_id) {
            None => Stopped { status: false, message: format!("Task with ID {task_id} not found.") },
            Some(ended) => {
                wait_ended(ended).await;
                Stopped { status: true, message: format!("Task {task_id} successfully stopped.") }
            }
        }
    }
}

async fn wait_ended(mut ended: watch::Receiver<bool>) {
    let _ = tokio::time::timeout(STOP_WAIT, ended.wait_for(|e| *e)).await;
}

/// Stops the tasks of this instance that other instances asked to stop.
async fn listen(tasks: Weak<Tasks>, mut stops: broadcast::Receiver<Arc<Stop>>) {
    loop {
        match stops.recv().await {
            Ok(stop) => match tasks.upgrade() {
                Some(tasks) => {
                    tasks.signal(&stop.task_id);
                }
                None => return,
            },
            Err(broadcast::error::RecvError::Lagged(missed)) => {
                tracing::warn!(missed, "task stops were missed");
            }
            Err(broadcast::error::RecvError::Closed) => return,
        }
    }
}

/// Renews the Redis entries of this instance's tasks four times per time to live, so that the
/// entries of an instance that died expire.
async fn renew(tasks: Weak<Tasks>, ttl: Duration) {
    let mut tick = tokio::time::interval(ttl / 4);
    tick.tick().await;
    loop {
        tick.tick().await;
        let Some(tasks) = tasks.upgrade() else { return };
        let Some(redis) = tasks.redis.clone() else { return };
        let keys: Vec<String> = tasks.running().keys().map(|id| tasks.key(id)).collect();
        if keys.is_empty() {
            continue;
        }
        let _: Option<()> = redis
            .run("task renewal", |mut c| async move {
                let mut pipe = redis::pipe();
                for key in &keys {
                    pipe.cmd("EXPIRE").arg(key).arg(ttl.as_secs()).ignore();
                }
                pipe.query_async(&mut c).await
            })
            .await;
    }
}
