//! The machines and their indexes: ordered sets of `(updated_at ns, id)` for the whole
//! fleet, per customer (its units included) and per unit, so a page costs O(page), not
//! O(fleet). Every change goes through [`Store::update`], which keeps the indexes in step.

use std::collections::{BTreeSet, HashMap};

use super::model::{Key, ResIx, Resource};
use super::tenants::{Kind, TenantIx, Tenants};

#[derive(Debug)]
pub(crate) struct Store {
    resources: Vec<Resource>,
    by_id: HashMap<u128, ResIx>,
    by_agent: HashMap<u128, ResIx>,
    all: BTreeSet<Key>,
    /// Per tenant: a customer's set holds its units' machines too; a unit's only its own.
    by_tenant: Vec<BTreeSet<Key>>,
    /// Per tenant, the machines it owns (a customer's list includes its units'), in index order.
    members: Vec<Vec<ResIx>>,
}

impl Store {
    pub(crate) fn new(resources: Vec<Resource>, tenants: &Tenants) -> Store {
        let mut store = Store {
            by_id: HashMap::with_capacity(resources.len()),
            by_agent: HashMap::with_capacity(resources.len()),
            all: BTreeSet::new(),
            by_tenant: vec![BTreeSet::new(); tenants.list.len()],
            members: vec![Vec::new(); tenants.list.len()],
            resources,
        };
        for ix in 0..store.resources.len() {
            let r = &store.resources[ix];
            let ix = ix as ResIx;
            store.by_id.insert(r.id, ix);
            store.by_agent.insert(r.agent, ix);
            store.members[r.customer as usize].push(ix);
            if tenants.get(r.owner).kind == Kind::Unit {
                store.members[r.owner as usize].push(ix);
            }
            store.index(ix);
        }
        store
    }

    pub(crate) fn len(&self) -> usize {
        self.resources.len()
    }

    pub(crate) fn get(&self, ix: ResIx) -> &Resource {
        &self.resources[ix as usize]
    }

    /// A machine that was not purged, by id.
    pub(crate) fn find(&self, id: u128) -> Option<ResIx> {
        self.by_id
            .get(&id)
            .copied()
            .filter(|&ix| !self.get(ix).purged)
    }

    pub(crate) fn find_agent(&self, agent: u128) -> Option<ResIx> {
        self.by_agent
            .get(&agent)
            .copied()
            .filter(|&ix| !self.get(ix).purged)
    }

    /// Looks up a key's machine (keys in the indexes always resolve).
    pub(crate) fn by_key(&self, key: &Key) -> Option<&Resource> {
        self.by_id.get(&key.1).map(|&ix| self.get(ix))
    }

    /// Machines owned by a tenant (a customer's include its units'), in index order.
    pub(crate) fn members(&self, t: TenantIx) -> &[ResIx] {
        self.members.get(t as usize).map_or(&[], Vec::as_slice)
    }

    pub(crate) fn all(&self) -> &BTreeSet<Key> {
        &self.all
    }

    pub(crate) fn tenant_set(&self, t: TenantIx) -> &BTreeSet<Key> {
        &self.by_tenant[t as usize]
    }

    /// Changes a machine through `f`, re-indexing it if its key moved. Returns `f`'s result.
    pub(crate) fn update<T>(&mut self, ix: ResIx, f: impl FnOnce(&mut Resource) -> T) -> T {
        let before = self.get(ix).key();
        let out = f(&mut self.resources[ix as usize]);
        let r = self.get(ix);
        if r.key() != before && !r.purged {
            self.unindex(ix, before);
            self.index(ix);
        }
        out
    }

    /// Removes a machine from every index for good.
    pub(crate) fn purge(&mut self, ix: ResIx) {
        let key = self.get(ix).key();
        self.unindex(ix, key);
        let r = &mut self.resources[ix as usize];
        r.purged = true;
        r.generation = r.generation.wrapping_add(1);
    }

    fn index(&mut self, ix: ResIx) {
        let r = &self.resources[ix as usize];
        let key = r.key();
        self.all.insert(key);
        for t in index_tenants(r) {
            self.by_tenant[t as usize].insert(key);
        }
    }

    fn unindex(&mut self, ix: ResIx, key: Key) {
        let r = &self.resources[ix as usize];
        self.all.remove(&key);
        for t in index_tenants(r) {
            self.by_tenant[t as usize].remove(&key);
        }
    }
}

/// The per-tenant sets a machine belongs to: its customer's, and its unit's if any.
fn index_tenants(r: &Resource) -> impl Iterator<Item = TenantIx> {
    [Some(r.customer), (r.owner != r.customer).then_some(r.owner)]
        .into_iter()
        .flatten()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::simulator::fleet;

    #[test]
    fn indexes_follow_updates_and_purges() {
        let tenants = Tenants::generate(2, 5, 1_700_000_000);
        let mut store = Store::new(
            fleet::generate(2, 300, &tenants, 1_700_000_000_000_000_000),
            &tenants,
        );
        assert_eq!(store.all().len(), 300);
        let per_customer: usize = tenants.customers().map(|c| store.tenant_set(c).len()).sum();
        assert_eq!(per_customer, 300);
        let ix = 17;
        let old = store.get(ix).key();
        store.update(ix, |r| r.updated_ns += 5);
        let new = store.get(ix).key();
        assert!(!store.all().contains(&old) && store.all().contains(&new));
        let c = store.get(ix).customer;
        assert!(store.tenant_set(c).contains(&new));
        let id = store.get(ix).id;
        store.purge(ix);
        assert!(!store.all().contains(&new));
        assert_eq!(store.find(id), None);
        assert_eq!(store.all().len(), 299);
    }
}
