//! The tenant tree: one partner (the API client's tenant), a couple of folders, the
//! customers (some under the partner, some in folders) and units inside some customers.
//!
//! Static after generation: the simulator never adds or removes tenants. Every tenant has
//! a UUID (Account Management's id) and a numeric id (what Resource Management puts in
//! `context.tenant_id`); lookups accept either.

use std::collections::HashMap;

use super::clock::NS_PER_SEC;
use super::seed::{Salt, below, hash, uuid, uuid_string};

/// Index of a tenant in [`Tenants::list`]; the partner is 0.
pub(crate) type TenantIx = u32;

pub(crate) const PARTNER: TenantIx = 0;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Kind {
    Partner,
    Folder,
    Customer,
    Unit,
}

impl Kind {
    pub(crate) fn as_str(self) -> &'static str {
        match self {
            Kind::Partner => "partner",
            Kind::Folder => "folder",
            Kind::Customer => "customer",
            Kind::Unit => "unit",
        }
    }
}

#[derive(Debug, Clone)]
pub(crate) struct Tenant {
    pub uuid: String,
    pub numeric_id: String,
    pub name: String,
    pub kind: Kind,
    pub parent: Option<TenantIx>,
    pub children: Vec<TenantIx>,
    /// The customer this tenant belongs to: itself for a customer, the parent for a unit.
    pub customer: Option<TenantIx>,
    /// Its machines carry the UUID instead of the numeric id in `context.tenant_id`.
    pub uuid_in_context: bool,
    /// Account Management's `enabled` (a customer can be switched off over `/_sim/`).
    pub enabled: bool,
    pub version: u32,
    pub created_s: i64,
    pub updated_s: i64,
}

impl Tenant {
    /// What RM items of this tenant's machines carry in `context.tenant_id`.
    pub(crate) fn context_id(&self) -> &str {
        if self.uuid_in_context {
            &self.uuid
        } else {
            &self.numeric_id
        }
    }
}

/// How a tenant is named in a token scope: `urn:acronis.com:tenant-id:<id>`.
pub(crate) const SCOPE_URN: &str = "urn:acronis.com:tenant-id:";

/// A token's reach: the whole partner subtree, or one customer and its units.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Scope {
    Partner,
    Customer(TenantIx),
}

impl Scope {
    pub(crate) fn root(self) -> TenantIx {
        match self {
            Scope::Partner => PARTNER,
            Scope::Customer(c) => c,
        }
    }
}

#[derive(Debug, Clone)]
pub(crate) struct Tenants {
    pub list: Vec<Tenant>,
    /// The partner's own parent: outside the client's subtree.
    pub root_parent: String,
    by_id: HashMap<String, TenantIx>,
}

const CUSTOMER_NAMES: [&str; 20] = [
    "Contoso",
    "Fabrikam",
    "Northwind Traders",
    "Adventure Works",
    "Smith & Sons <Ltd>",
    "Tailspin Toys",
    "Wide World Importers",
    "Litware",
    "Proseware",
    "Woodgrove Bank",
    "Alpine Ski House",
    "Coho Winery",
    "Fourth Coffee",
    "Lucerne Publishing",
    "Margie's Travel",
    "Trey Research",
    "Blue Yonder Airlines",
    "Humongous Insurance",
    "Wingtip Toys",
    "Bellows College",
];
const UNIT_NAMES: [&str; 6] = [
    "Head Office",
    "Branch Munich",
    "Warehouse",
    "Sales",
    "Engineering",
    "Lab",
];
const FOLDER_NAMES: [&str; 2] = ["Direct customers", "Reseller: Acme IT"];

impl Tenants {
    /// The tree for `seed` with `customers` customers; stamps lie before `start_s`.
    pub(crate) fn generate(seed: u64, customers: usize, start_s: i64) -> Tenants {
        let mut b = Builder {
            seed,
            start_s,
            list: Vec::new(),
            next_numeric: 0,
        };
        b.next_numeric = 1_000_000 + below(hash(seed, Salt::TenantNumeric, &[0]), 8_000_000);
        let partner = b.add("Simulated MSP", Kind::Partner, None, false);
        let folders: Vec<TenantIx> = FOLDER_NAMES
            .iter()
            .map(|n| b.add(n, Kind::Folder, Some(partner), false))
            .collect();
        for c in 0..customers {
            let shape = hash(seed, Salt::TenantShape, &[c as u64]);
            // Customer 0 always sits under the partner and customer 1 in a folder, so
            // even small fleets have both placements.
            let parent = match (c, below(shape, 3)) {
                (0, _) | (2.., 0) => partner,
                (1, _) => folders[0],
                _ => folders[(shape >> 32) as usize % folders.len()],
            };
            let base = CUSTOMER_NAMES[c % CUSTOMER_NAMES.len()];
            let name = match c / CUSTOMER_NAMES.len() {
                0 => base.to_string(),
                round => format!("{base} {}", round + 1),
            };
            let uuid_in_context = c % 5 == 4;
            let customer = b.add(&name, Kind::Customer, Some(parent), uuid_in_context);
            if c % 4 == 1 {
                let units = 1 + (shape >> 40) as usize % 2;
                for u in 0..units {
                    let unit_name = UNIT_NAMES[(c + u) % UNIT_NAMES.len()];
                    b.add(unit_name, Kind::Unit, Some(customer), uuid_in_context);
                }
            }
        }
        // A customer switched off in Account Management (enabled: false), as partners
        // keep former customers: after the others, with no units and no machines, so
        // the rest of the fleet is what it was before it existed.
        if customers > 0 {
            let former = b.add("Former Customer", Kind::Customer, Some(partner), false);
            b.list[former as usize].enabled = false;
        }
        let root_parent = uuid_string(uuid(
            hash(seed, Salt::TenantUuid, &[u64::MAX]),
            hash(seed, Salt::TenantUuid, &[0]),
        ));
        let mut by_id = HashMap::new();
        for (i, t) in b.list.iter().enumerate() {
            by_id.insert(t.uuid.clone(), i as TenantIx);
            by_id.insert(t.numeric_id.clone(), i as TenantIx);
        }
        Tenants {
            list: b.list,
            root_parent,
            by_id,
        }
    }

    pub(crate) fn get(&self, t: TenantIx) -> &Tenant {
        &self.list[t as usize]
    }

    pub(crate) fn get_mut(&mut self, t: TenantIx) -> &mut Tenant {
        &mut self.list[t as usize]
    }

    /// A tenant by UUID (any case) or numeric id.
    pub(crate) fn find(&self, id: &str) -> Option<TenantIx> {
        let id = id.trim();
        self.by_id
            .get(id)
            .or_else(|| self.by_id.get(&id.to_ascii_lowercase()))
            .copied()
    }

    pub(crate) fn customers(&self) -> impl Iterator<Item = TenantIx> + '_ {
        (0..self.list.len() as TenantIx).filter(|&t| self.get(t).kind == Kind::Customer)
    }

    /// Tenants that can own machines: customers and units.
    pub(crate) fn owners(&self) -> impl Iterator<Item = TenantIx> + '_ {
        (0..self.list.len() as TenantIx)
            .filter(|&t| matches!(self.get(t).kind, Kind::Customer | Kind::Unit))
    }

    /// Whether `t` is `root` or below it.
    pub(crate) fn in_subtree(&self, t: TenantIx, root: TenantIx) -> bool {
        let mut cur = Some(t);
        while let Some(c) = cur {
            if c == root {
                return true;
            }
            cur = self.get(c).parent;
        }
        false
    }

    /// `root` and its whole subtree, level by level.
    pub(crate) fn subtree(&self, root: TenantIx) -> Vec<TenantIx> {
        let mut out = vec![root];
        let mut i = 0;
        while i < out.len() {
            out.extend(self.get(out[i]).children.iter().copied());
            i += 1;
        }
        out
    }
}

struct Builder {
    seed: u64,
    start_s: i64,
    list: Vec<Tenant>,
    next_numeric: u64,
}

impl Builder {
    fn add(
        &mut self,
        name: &str,
        kind: Kind,
        parent: Option<TenantIx>,
        uuid_in_context: bool,
    ) -> TenantIx {
        let ix = self.list.len() as TenantIx;
        let i = u64::from(ix);
        let id = uuid(
            hash(self.seed, Salt::TenantUuid, &[i, 1]),
            hash(self.seed, Salt::TenantUuid, &[i, 2]),
        );
        let stamp = hash(self.seed, Salt::TenantStamp, &[i]);
        let age_days = 60 + below(stamp, 1500) as i64;
        let created_s = self.start_s - age_days * 86_400 - below(stamp >> 16, 86_400) as i64;
        let updated_s = created_s + below(stamp >> 24, (age_days as u64 - 1) * 86_400) as i64;
        let numeric = self.next_numeric;
        self.next_numeric += 1 + below(hash(self.seed, Salt::TenantNumeric, &[i + 1]), 40);
        let customer = match kind {
            Kind::Customer => Some(ix),
            Kind::Unit => parent,
            _ => None,
        };
        if let Some(p) = parent {
            self.list[p as usize].children.push(ix);
        }
        self.list.push(Tenant {
            uuid: uuid_string(id),
            numeric_id: numeric.to_string(),
            name: name.to_string(),
            kind,
            parent,
            children: Vec::new(),
            customer,
            uuid_in_context,
            enabled: true,
            version: 1 + below(stamp >> 40, 12) as u32,
            created_s,
            updated_s,
        });
        ix
    }
}

/// Seconds to nanoseconds (tenant stamps are whole seconds).
pub(crate) fn secs_to_ns(s: i64) -> i64 {
    s.saturating_mul(NS_PER_SEC)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn shape_has_folders_customers_and_units() {
        let t = Tenants::generate(1, 5, 1_700_000_000);
        assert_eq!(t.get(PARTNER).kind, Kind::Partner);
        // Five customers, and the former one, disabled, after them.
        assert_eq!(t.customers().count(), 6);
        let former = t.customers().last().unwrap();
        assert!(!t.get(former).enabled && t.get(former).children.is_empty());
        assert!(t.customers().take(5).all(|c| t.get(c).enabled));
        let units: Vec<_> = t.list.iter().filter(|x| x.kind == Kind::Unit).collect();
        assert!(!units.is_empty(), "customer 1 always has units");
        let in_folder = t
            .customers()
            .filter(|&c| t.get(c).parent != Some(PARTNER))
            .count();
        assert!((1..5).contains(&in_folder));
        let c4 = t.customers().nth(4).expect("5 customers");
        assert!(t.get(c4).uuid_in_context);
        assert_eq!(t.get(c4).context_id(), t.get(c4).uuid);
        for (i, x) in t.list.iter().enumerate() {
            assert_eq!(t.find(&x.uuid), Some(i as TenantIx));
            assert_eq!(t.find(&x.numeric_id), Some(i as TenantIx));
            assert_eq!(t.find(&x.uuid.to_uppercase()), Some(i as TenantIx));
            assert!(x.created_s <= x.updated_s && x.updated_s < 1_700_000_000);
        }
        assert_eq!(t.find(&t.root_parent), None);
    }

    #[test]
    fn subtree_walks() {
        let t = Tenants::generate(9, 12, 1_700_000_000);
        assert_eq!(t.subtree(PARTNER).len(), t.list.len());
        for c in t.customers() {
            for s in t.subtree(c) {
                assert!(t.in_subtree(s, c));
                assert_eq!(t.get(s).customer, Some(c));
            }
            assert!(!t.in_subtree(PARTNER, c));
        }
    }
}
