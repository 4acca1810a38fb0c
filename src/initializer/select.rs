//! Which store the initializer configures in one environment: [`Initializer::select`].

use std::collections::HashSet;

use super::branches::cond::Status;
use super::{Branch, Initializer, Selection, Store, Undecided, Vars};

impl Initializer {
    /// The store configured in the environment `vars` gives: of the stores whose conditions
    /// hold, the last (a later `config.store =` replaces an earlier one). When that hangs on
    /// conditions this reader cannot evaluate, every way they can turn out is tried; if the
    /// stores it may be clear different sessions, or it may be none, the choice is
    /// undecidable. Long: one pass gathers the candidates, the open conditions and the
    /// variables they read together, which keeps it linear in the stores.
    pub fn select<V: Vars + ?Sized>(&self, vars: &V) -> Selection<'_> {
        if self.stores.is_empty() {
            return Selection::NoStore;
        }
        // The stores the environment does not rule out, with the conditions left open.
        let mut open: Vec<(&Store, Vec<(&str, bool)>)> = Vec::new();
        let mut variables: Vec<String> = Vec::new();
        'stores: for s in &self.stores {
            let mut left = Vec::new();
            for b in &s.branches {
                match b.status(vars) {
                    Status::Holds => {}
                    Status::Fails => continue 'stores,
                    Status::Open(c, want) => left.push((c, want)),
                }
            }
            open.push((s, left));
        }
        // Each condition and variable once, in file order; the sets keep that linear in how
        // many distinct ones there are.
        let mut conditions: Vec<String> = Vec::new();
        let mut seen: HashSet<&str> = HashSet::new();
        let mut reads: Vec<String> = Vec::new();
        let mut seen_reads: HashSet<&str> = HashSet::new();
        for (s, left) in &open {
            for (c, _) in left {
                if seen.insert(c) {
                    conditions.push(c.to_string());
                }
            }
            for b in &s.branches {
                if let Branch::Known { test, text, .. } = b
                    && left.iter().any(|(c, _)| c == text)
                {
                    test.variables(&mut variables);
                }
                if let Branch::Unknown(text, r) | Branch::UnknownNot(text, r) = b
                    && left.iter().any(|(c, _)| c == text)
                {
                    for name in r {
                        if seen_reads.insert(name) {
                            reads.push(name.clone());
                        }
                    }
                }
            }
        }
        let outcomes = outcomes(&open, &conditions);
        let maybe_none = outcomes.contains(&None);
        let mut picked: Vec<usize> = outcomes.into_iter().flatten().collect();
        picked.sort_unstable();
        let candidates: Vec<&Store> = picked.into_iter().map(|i| open[i].0).collect();
        match candidates.last() {
            None => Selection::NoneForEnv,
            Some(last) if !maybe_none && candidates.iter().all(|c| c.same_target(last)) => {
                Selection::Store(last)
            }
            Some(_) => Selection::Undecidable(Undecided {
                candidates,
                maybe_none,
                conditions,
                variables,
                reads,
            }),
        }
    }

    /// The environment variables its conditions read, in file order, each once.
    pub fn variables(&self) -> Vec<String> {
        let mut out = Vec::new();
        for b in self.stores.iter().flat_map(|s| &s.branches) {
            if let Branch::Known { test, .. } = b {
                test.variables(&mut out);
            }
        }
        out
    }
}

/// Which of `open` (indexes; `None` for no store) is configured, for each way `conditions`
/// can turn out. With too many to try, each store's conditions count as independent.
fn outcomes(open: &[(&Store, Vec<(&str, bool)>)], conditions: &[String]) -> Vec<Option<usize>> {
    let tries = 1usize
        .checked_shl(conditions.len() as u32)
        .unwrap_or(usize::MAX);
    let exhaustive = tries.saturating_mul(open.len().max(1)) <= 1 << 22;
    let mut found: Vec<Option<usize>> = Vec::new();
    if exhaustive {
        // Each store's open conditions as (index, wanted), found once.
        let wants: Vec<Vec<(usize, bool)>> = open
            .iter()
            .map(|(_, left)| {
                left.iter()
                    .map(|(c, want)| (conditions.iter().position(|x| x == c).unwrap_or(0), *want))
                    .collect()
            })
            .collect();
        for assignment in 0..tries {
            let holds = |w: &[(usize, bool)]| {
                w.iter()
                    .all(|&(i, want)| (assignment >> i & 1 == 1) == want)
            };
            let pick = wants.iter().rposition(|w| holds(w));
            if !found.contains(&pick) {
                found.push(pick);
            }
        }
    } else {
        // From the end: every store with open conditions may be it, up to one without.
        found.push(None);
        for (i, (_, left)) in open.iter().enumerate().rev() {
            found.push(Some(i));
            if left.is_empty() {
                found.retain(Option::is_some);
                break;
            }
        }
    }
    found
}
