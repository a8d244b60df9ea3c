//! State machine versions and aliases.
//!
//! A version is an immutable copy of a machine's definition and role,
//! numbered from 1 per machine (numbers are never reused, also after a
//! version is deleted), kept beside the machines under its qualified ARN
//! `<machine>:<n>`. An alias `<machine>:<name>` routes each new execution to
//! one of one or two versions, by weight. An execution started from a version
//! or an alias remembers both in its record.

use super::{Engine, MachineEntry};
use crate::api::ApiError;
use crate::arn::{self, Qualifier};
use crate::store::{AliasRecord, StateMachineRecord, Write};

/// Most versions a machine keeps (AWS's quota).
const MAX_VERSIONS: usize = 1000;
/// The meta key holding a machine's highest version number ever published.
const LAST_VERSION_PREFIX: &str = "last_version:";

/// What an execution runs: the machine (or the version an alias picked).
pub(super) struct Target {
    /// The machine's own (unqualified) ARN.
    pub base: String,
    pub entry: MachineEntry,
    pub version_arn: Option<String>,
    pub alias_arn: Option<String>,
}

impl Engine {
    /// Restores the version counters kept in meta rows.
    pub(super) fn load_version_counters(&mut self, meta: &[(String, String)]) {
        for (k, v) in meta {
            if let (Some(machine), Ok(n)) = (k.strip_prefix(LAST_VERSION_PREFIX), v.parse()) {
                self.last_version.insert(machine.to_owned(), n);
            }
        }
    }

    /// The machine, version or alias `arn` names, resolved to what an execution runs.
    pub(super) fn target(&self, arn: &str) -> Result<Target, ApiError> {
        let Some((base, qualifier)) = arn::split_qualifier(arn) else {
            return Err(ApiError::invalid_arn(format!(
                "Invalid State Machine Arn: '{arn}'"
            )));
        };
        let (version_arn, alias_arn) = match qualifier {
            None => (None, None),
            Some(Qualifier::Version(_)) => (Some(arn.to_owned()), None),
            Some(Qualifier::Alias(_)) => (Some(self.pick_version(arn)?), Some(arn.to_owned())),
        };
        Ok(Target {
            base: base.to_owned(),
            entry: self.machine(version_arn.as_deref().unwrap_or(arn))?.clone(),
            version_arn,
            alias_arn,
        })
    }

    /// The version alias `arn` sends a new execution to, by the routing weights.
    fn pick_version(&self, arn: &str) -> Result<String, ApiError> {
        // StartExecution answers a missing alias as a missing state machine.
        let alias = self.aliases.get(arn).ok_or_else(|| {
            ApiError::state_machine_does_not_exist(format!("State Machine Does Not Exist: '{arn}'"))
        })?;
        let roll = (uuid::Uuid::new_v4().as_u64_pair().0 % 100) as u32;
        let mut sum = 0;
        alias
            .routing
            .iter()
            .find(|(_, w)| {
                sum += w;
                roll < sum
            })
            .or(alias.routing.last())
            .map(|(v, _)| v.clone())
            .ok_or_else(|| ApiError::internal(format!("alias {arn} routes nowhere")))
    }

    /// The unqualified machine ARN behind a machine, version or alias ARN, which must exist.
    pub(super) fn resolve_machine(&self, arn: &str) -> Result<String, ApiError> {
        let Some((base, qualifier)) = arn::split_qualifier(arn) else {
            return Err(ApiError::invalid_arn(format!(
                "Invalid State Machine Arn: '{arn}'"
            )));
        };
        match qualifier {
            Some(Qualifier::Alias(_)) => self.alias(arn).map(|_| base.to_owned()),
            _ => self.machine(arn).map(|_| base.to_owned()),
        }
    }

    fn alias(&self, arn: &str) -> Result<&AliasRecord, ApiError> {
        self.aliases
            .get(arn)
            .ok_or_else(|| ApiError::resource_not_found(format!("Resource not found: '{arn}'")))
    }

    /// An unqualified machine ARN, for the actions that take only those.
    pub(super) fn unqualified<'a>(&self, arn: &'a str, action: &str) -> Result<&'a str, ApiError> {
        match arn::split_qualifier(arn) {
            Some((base, None)) => Ok(base),
            Some((_, Some(_))) => Err(ApiError::validation(format!(
                "{action} takes the state machine's own ARN, not a version or alias ARN: '{arn}'"
            ))),
            None => Err(ApiError::invalid_arn(format!(
                "Invalid State Machine Arn: '{arn}'"
            ))),
        }
    }

    /// The versions of a machine, newest first.
    pub(super) fn versions_of(&self, machine: &str) -> Vec<StateMachineRecord> {
        let mut v: Vec<(u64, StateMachineRecord)> = self
            .machines
            .iter()
            .filter_map(|(arn, m)| match arn::split_qualifier(arn) {
                Some((base, Some(Qualifier::Version(n)))) if base == machine => {
                    Some((n, m.rec.clone()))
                }
                _ => None,
            })
            .collect();
        v.sort_by_key(|(n, _)| std::cmp::Reverse(*n));
        v.into_iter().map(|(_, r)| r).collect()
    }

    /// Publishes the machine's current revision as a new version (or
    /// answers the latest version when it already is that revision).
    pub(super) fn publish_version(
        &mut self,
        machine_arn: &str,
        revision_id: Option<&str>,
        description: Option<String>,
    ) -> Result<StateMachineRecord, ApiError> {
        let machine_arn = self.unqualified(machine_arn, "PublishStateMachineVersion")?;
        let entry = self.machine(machine_arn)?.clone();
        if let Some(r) = revision_id
            && r != entry.rec.revision_id
        {
            return Err(ApiError::conflict(format!(
                "The state machine's revision is {}, not {r}: it changed since that revision",
                entry.rec.revision_id
            )));
        }
        let versions = self.versions_of(machine_arn);
        if let Some(latest) = versions.first()
            && latest.revision_id == entry.rec.revision_id
        {
            let asked = description.as_deref().unwrap_or_default();
            if description.is_some() && asked != latest.description {
                return Err(ApiError::conflict(format!(
                    "This revision is already published as {} with another description",
                    latest.arn
                )));
            }
            return Ok(latest.clone());
        }
        if versions.len() >= MAX_VERSIONS {
            return Err(ApiError::service_quota_exceeded(format!(
                "The state machine {machine_arn} has {MAX_VERSIONS} versions: delete some before publishing another"
            )));
        }
        let n = self.last_version.get(machine_arn).copied().unwrap_or(0) + 1;
        let now = self.clock.now_ms();
        let rec = StateMachineRecord {
            arn: format!("{machine_arn}:{n}"),
            created: now,
            updated: now,
            description: description.unwrap_or_default(),
            ..entry.rec.clone()
        };
        self.last_version.insert(machine_arn.to_owned(), n);
        self.batch.push(Write::PutMeta {
            key: format!("{LAST_VERSION_PREFIX}{machine_arn}"),
            value: n.to_string(),
        });
        self.batch.push(Write::PutStateMachine(rec.clone()));
        self.machines.insert(
            rec.arn.clone(),
            MachineEntry {
                rec: rec.clone(),
                compiled: entry.compiled,
                definition: entry.definition,
            },
        );
        Ok(rec)
    }

    /// Publishes `machine`'s revision when `publish` carries a description
    /// (`publish` on Create/UpdateStateMachine).
    pub(super) fn publish_with(
        &mut self,
        machine: &StateMachineRecord,
        publish: Option<String>,
    ) -> Result<Option<StateMachineRecord>, ApiError> {
        publish
            .map(|d| self.publish_version(&machine.arn, None, Some(d)))
            .transpose()
    }

    /// Deletes a version unless an alias routes to it; deleting one that is gone succeeds.
    pub(super) fn delete_version(&mut self, arn: &str) -> Result<(), ApiError> {
        if !matches!(
            arn::split_qualifier(arn),
            Some((_, Some(Qualifier::Version(_))))
        ) {
            return Err(ApiError::validation(format!(
                "Invalid state machine version ARN: '{arn}' (expected <state machine ARN>:<version number>)"
            )));
        }
        if let Some(a) = self
            .aliases
            .values()
            .find(|a| a.routing.iter().any(|(v, _)| v == arn))
        {
            return Err(ApiError::conflict(format!(
                "Version {arn} can't be deleted: the alias {} routes to it",
                a.arn
            )));
        }
        if self.machines.remove(arn).is_some() {
            self.batch.push(Write::DeleteStateMachine(arn.to_owned()));
        }
        Ok(())
    }

    /// Removes a deleted machine's versions, aliases and version counter.
    pub(super) fn forget_versions(&mut self, machine_arn: &str) {
        for v in self.versions_of(machine_arn) {
            self.machines.remove(&v.arn);
            self.batch.push(Write::DeleteStateMachine(v.arn));
        }
        let aliases: Vec<String> = self
            .aliases
            .values()
            .filter(|a| a.machine_arn == machine_arn)
            .map(|a| a.arn.clone())
            .collect();
        for a in aliases {
            self.aliases.remove(&a);
            self.batch.push(Write::DeleteAlias(a));
        }
        if self.last_version.remove(machine_arn).is_some() {
            self.batch.push(Write::PutMeta {
                key: format!("{LAST_VERSION_PREFIX}{machine_arn}"),
                value: "0".into(),
            });
        }
    }

    /// Checks a routing configuration: one or two versions of `machine`, weights summing to 100.
    fn check_routing(&self, machine: &str, routing: &[(String, u32)]) -> Result<(), ApiError> {
        if routing.is_empty() || routing.len() > 2 {
            return Err(ApiError::validation(
                "1 validation error detected: Value at 'routingConfiguration' failed to satisfy constraint: Member must have length between 1 and 2",
            ));
        }
        if routing.len() == 2 && routing[0].0 == routing[1].0 {
            return Err(ApiError::validation(
                "The routing configuration names the same version twice",
            ));
        }
        for (v, w) in routing {
            if *w > 100 {
                return Err(ApiError::validation(format!(
                    "The weight of {v} is {w}: weights are 0 to 100"
                )));
            }
            match arn::split_qualifier(v) {
                Some((base, Some(Qualifier::Version(_)))) if base == machine => {}
                _ => {
                    return Err(ApiError::validation(format!(
                        "'{v}' is not a version of {machine}"
                    )));
                }
            }
            if !self.machines.contains_key(v) {
                return Err(ApiError::resource_not_found(format!(
                    "The version '{v}' does not exist"
                )));
            }
        }
        let total: u32 = routing.iter().map(|(_, w)| w).sum();
        if total != 100 {
            return Err(ApiError::validation(format!(
                "The routing weights add up to {total}, not 100"
            )));
        }
        Ok(())
    }

    /// Creates an alias of the machine the routed versions belong to.
    pub(super) fn create_alias(
        &mut self,
        name: String,
        description: String,
        routing: Vec<(String, u32)>,
    ) -> Result<AliasRecord, ApiError> {
        arn::check_name(&name).map_err(ApiError::invalid_name)?;
        if name.bytes().all(|b| b.is_ascii_digit()) {
            return Err(ApiError::invalid_name(format!(
                "Invalid Name: '{name}' (an alias name can't be a number: numbers name versions)"
            )));
        }
        let machine = routing
            .first()
            .and_then(|(v, _)| arn::split_qualifier(v))
            .map(|(base, _)| base.to_owned())
            .ok_or_else(|| {
                ApiError::validation(
                    "The routing configuration must name one or two versions of a state machine",
                )
            })?;
        self.check_routing(&machine, &routing)?;
        let arn = format!("{machine}:{name}");
        if let Some(existing) = self.aliases.get(&arn) {
            if existing.description == description && existing.routing == routing {
                return Ok(existing.clone());
            }
            return Err(ApiError::conflict(format!(
                "The alias {arn} exists with another configuration"
            )));
        }
        let now = self.clock.now_ms();
        let rec = AliasRecord {
            arn: arn.clone(),
            machine_arn: machine,
            name,
            description,
            routing,
            created: now,
            updated: now,
        };
        self.batch.push(Write::PutAlias(rec.clone()));
        self.aliases.insert(arn, rec.clone());
        Ok(rec)
    }

    pub(super) fn describe_alias(&self, arn: &str) -> Result<AliasRecord, ApiError> {
        self.check_alias_arn(arn)?;
        self.alias(arn).cloned()
    }

    fn check_alias_arn(&self, arn: &str) -> Result<(), ApiError> {
        match arn::split_qualifier(arn) {
            Some((_, Some(Qualifier::Alias(_)))) => Ok(()),
            _ => Err(ApiError::validation(format!(
                "Invalid state machine alias ARN: '{arn}' (expected <state machine ARN>:<alias name>)"
            ))),
        }
    }

    pub(super) fn update_alias(
        &mut self,
        arn: &str,
        description: Option<String>,
        routing: Option<Vec<(String, u32)>>,
    ) -> Result<AliasRecord, ApiError> {
        self.check_alias_arn(arn)?;
        let mut rec = self.alias(arn)?.clone();
        if let Some(r) = routing {
            self.check_routing(&rec.machine_arn, &r)?;
            rec.routing = r;
        }
        if let Some(d) = description {
            rec.description = d;
        }
        rec.updated = self.clock.now_ms();
        self.batch.push(Write::PutAlias(rec.clone()));
        self.aliases.insert(rec.arn.clone(), rec.clone());
        Ok(rec)
    }

    pub(super) fn delete_alias(&mut self, arn: &str) -> Result<(), ApiError> {
        self.check_alias_arn(arn)?;
        self.alias(arn)?;
        self.aliases.remove(arn);
        self.batch.push(Write::DeleteAlias(arn.to_owned()));
        Ok(())
    }

    /// The aliases of a machine, by name.
    pub(super) fn aliases_of(&self, machine_arn: &str) -> Result<Vec<AliasRecord>, ApiError> {
        let machine_arn = self.unqualified(machine_arn, "ListStateMachineAliases")?;
        self.machine(machine_arn)?;
        let mut v: Vec<AliasRecord> = self
            .aliases
            .values()
            .filter(|a| a.machine_arn == machine_arn)
            .cloned()
            .collect();
        v.sort_by(|a, b| a.name.cmp(&b.name));
        Ok(v)
    }
}
