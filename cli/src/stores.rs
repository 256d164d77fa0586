//! Where `plan` / `apply` keep what autoenroll remembers (which phone it registered for whom)
//! and the audit trail:
//! - `--table NAME`: the deployed stack's DynamoDB table — the same memory the Lambda functions
//!   use, so a later number change updates a phone the CLI registered (AWS credentials and
//!   region from the usual AWS environment).
//! - otherwise a local JSON file (`--state-file`), holding hashes only, never a number;
//! - a simulated tenant lives only as long as the process: memory is kept in memory.
//!
//! Audit records (masked numbers only) go to the table, or to `audit.jsonl` in the report
//! directory.
//!
//! When the policy turns the TAP bootstrap on, `plan` / `apply` run it as the enroll function
//! does (`autoenroll_aws::delivery::bootstrap_for`: SES / SNS, open bootstraps in the table), so
//! `--table` is required then: without it a new user would silently get no pass.

use std::collections::HashMap;
use std::io::Write;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use anyhow::Context;
use async_trait::async_trait;
use autoenroll_aws::dynamo::DynamoStore;
use autoenroll_core::engine::{Bootstrap, Enroller};
use autoenroll_core::memory::InMemoryMemoryStore;
use autoenroll_core::policy::{BootstrapEffect, Policy};
use autoenroll_core::ports::{AuditRecord, AuditSink, ManagedPhone, MemoryStore, StoreError};

use crate::backfill::Mode;
use crate::tenant::Connected;

/// The deployed stack's table (`--table`): memory and audit, and — built with
/// `autoenroll_aws::delivery::bootstrap_for` — the TAP bootstrap when the policy turns it on.
pub struct TableStores {
    pub store: DynamoStore,
    pub bootstrap: Option<Bootstrap>,
}

/// Where `plan` / `apply` keep state when there is no table.
#[derive(Debug, Clone, Copy)]
pub struct LocalFiles<'a> {
    /// `--state-file` (unused with a simulated tenant: memory stays in the process).
    pub state_file: &'a Path,
    /// The report directory; `apply` appends audit records to `audit.jsonl` there.
    pub out: &'a Path,
}

/// Memory, audit and the TAP bootstrap of one `plan` / `apply` run.
pub struct RunStores {
    pub memory: DynMemory,
    pub audit: DynAudit,
    pub bootstrap: Option<Bootstrap>,
}

impl RunStores {
    /// The stores for a run. Refuses a policy whose bootstrap is on without a table: the passes
    /// need SES / SNS and the open bootstraps the stack's table, and an operator who turned
    /// bootstrap on must not find it silently off.
    pub async fn open(
        mode: Mode,
        policy: &Policy,
        table: Option<TableStores>,
        files: LocalFiles<'_>,
        simulated: bool,
    ) -> anyhow::Result<Self> {
        if let Some(table) = table {
            let store = Arc::new(table.store);
            return Ok(Self {
                memory: DynMemory(store.clone()),
                audit: DynAudit(store),
                bootstrap: table.bootstrap,
            });
        }
        if let BootstrapEffect::On { delivery, .. } = policy.bootstrap_effect() {
            anyhow::bail!(
                "the policy turns the TAP bootstrap on (bootstrap_delivery = {delivery}) but no \
                 --table was given: passes are sent through Amazon SES / SNS and open \
                 bootstraps kept in the stack's DynamoDB table. Give --table NAME (AWS \
                 credentials and region from the environment), or set bootstrap = \"off\""
            );
        }
        let memory = if simulated {
            DynMemory(Arc::new(InMemoryMemoryStore::new()))
        } else {
            let file = FileMemoryStore::open(files.state_file)
                .await
                .with_context(|| format!("--state-file {}", files.state_file.display()))?;
            DynMemory(Arc::new(file))
        };
        let audit = match mode {
            Mode::Plan => DynAudit(Arc::new(NoAudit)),
            Mode::Apply => {
                let path = files.out.join("audit.jsonl");
                let sink = JsonlAuditSink::append(&path)
                    .with_context(|| format!("opening {}", path.display()))?;
                DynAudit(Arc::new(sink))
            }
        };
        Ok(Self {
            memory,
            audit,
            bootstrap: None,
        })
    }

    /// The enroller of a run on `connected`. A simulated tenant lives on the simulator's clock
    /// (tests and demos move it past the SMS/voice retirement); a real one on the system's.
    pub fn enroller(self, connected: &Connected, policy: Policy) -> Enroller<DynMemory, DynAudit> {
        let mut enroller = Enroller::new(
            connected.graph.clone(),
            Arc::new(policy),
            connected.tenant_id.clone(),
            self.memory,
            self.audit,
        );
        if let Some(bootstrap) = self.bootstrap {
            enroller = enroller.with_bootstrap(bootstrap);
        }
        if let Some(sim) = connected.simulator() {
            let control = sim.control().clone();
            enroller = enroller.with_clock(Arc::new(move || control.now()));
        }
        enroller
    }
}

/// A memory store chosen at run time.
#[derive(Clone)]
pub struct DynMemory(pub Arc<dyn MemoryStore>);

#[async_trait]
impl MemoryStore for DynMemory {
    async fn get(&self, user_id: &str) -> Result<Option<ManagedPhone>, StoreError> {
        self.0.get(user_id).await
    }
    async fn put(
        &self,
        record: ManagedPhone,
        expected_version: Option<u64>,
    ) -> Result<(), StoreError> {
        self.0.put(record, expected_version).await
    }
    async fn delete(&self, user_id: &str) -> Result<(), StoreError> {
        self.0.delete(user_id).await
    }
}

/// An audit sink chosen at run time.
#[derive(Clone)]
pub struct DynAudit(pub Arc<dyn AuditSink>);

#[async_trait]
impl AuditSink for DynAudit {
    async fn record(&self, record: AuditRecord) -> Result<(), StoreError> {
        self.0.record(record).await
    }
}

/// Audit records that go nowhere (`plan` writes none; this only satisfies the type).
#[derive(Debug, Clone, Default)]
pub struct NoAudit;

#[async_trait]
impl AuditSink for NoAudit {
    async fn record(&self, _record: AuditRecord) -> Result<(), StoreError> {
        Ok(())
    }
}

/// The memory store in a JSON file (a map user id → record; hashes only). Every change is
/// written through (to a temporary file, then renamed) so an interrupted run loses nothing.
#[derive(Clone)]
pub struct FileMemoryStore {
    path: PathBuf,
    inner: InMemoryMemoryStore,
    write: Arc<tokio::sync::Mutex<()>>,
}

impl FileMemoryStore {
    pub async fn open(path: &Path) -> Result<Self, StoreError> {
        let inner = InMemoryMemoryStore::new();
        match tokio::fs::read_to_string(path).await {
            Ok(text) => {
                let records: HashMap<String, ManagedPhone> =
                    serde_json::from_str(&text).map_err(|e| {
                        StoreError::Other(format!("{} is not a memory file: {e}", path.display()))
                    })?;
                for record in records.into_values() {
                    inner.put(record, None).await?;
                }
            }
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
            Err(e) => {
                return Err(StoreError::Other(format!(
                    "reading {}: {e}",
                    path.display()
                )));
            }
        }
        Ok(Self {
            path: path.to_owned(),
            inner,
            write: Arc::new(tokio::sync::Mutex::new(())),
        })
    }

    async fn save(&self) -> Result<(), StoreError> {
        let _guard = self.write.lock().await;
        let text = serde_json::to_string_pretty(&self.inner.snapshot())
            .map_err(|e| StoreError::Other(e.to_string()))?;
        let tmp = self.path.with_extension("json.tmp");
        let io = |e: std::io::Error| {
            StoreError::Unavailable(format!("writing {}: {e}", self.path.display()))
        };
        tokio::fs::write(&tmp, text).await.map_err(io)?;
        tokio::fs::rename(&tmp, &self.path).await.map_err(io)
    }
}

#[async_trait]
impl MemoryStore for FileMemoryStore {
    async fn get(&self, user_id: &str) -> Result<Option<ManagedPhone>, StoreError> {
        self.inner.get(user_id).await
    }
    async fn put(
        &self,
        record: ManagedPhone,
        expected_version: Option<u64>,
    ) -> Result<(), StoreError> {
        self.inner.put(record, expected_version).await?;
        self.save().await
    }
    async fn delete(&self, user_id: &str) -> Result<(), StoreError> {
        self.inner.delete(user_id).await?;
        self.save().await
    }
}

/// Audit records as JSON lines in a file (appended).
pub struct JsonlAuditSink {
    /// A std mutex is fine: the critical section is one short write, never across an await.
    file: std::sync::Mutex<std::fs::File>,
}

impl JsonlAuditSink {
    pub fn append(path: &Path) -> std::io::Result<Self> {
        let file = std::fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(path)?;
        Ok(Self {
            file: std::sync::Mutex::new(file),
        })
    }
}

#[async_trait]
impl AuditSink for JsonlAuditSink {
    async fn record(&self, record: AuditRecord) -> Result<(), StoreError> {
        let mut line =
            serde_json::to_string(&record).map_err(|e| StoreError::Other(e.to_string()))?;
        line.push('\n');
        let mut file = self
            .file
            .lock()
            .map_err(|_| StoreError::Other("audit file lock poisoned".into()))?;
        file.write_all(line.as_bytes())
            .map_err(|e| StoreError::Unavailable(format!("writing the audit file: {e}")))
    }
}
