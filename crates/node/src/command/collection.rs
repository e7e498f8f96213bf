//! What every collection command shares: finding a key's collection of the right kind (or
//! answering WRONGTYPE), and changing one in place under the key's lock.

use super::{errors, Ctx};
use crate::store::Change;
use crate::store::{Value, NO_DEADLINE};
use crate::types::{Body, Hash, Kind};

/// Bytes a new element is charged at most beyond its own (encoding, table slot, allocation
/// rounding): what a write checks against the largest entry before it changes anything.
pub const ELEMENT_OVERHEAD: u64 = 64;

/// An empty collection of `kind`.
fn empty(kind: Kind) -> Body {
    match kind {
        Kind::Hash => Body::Hash(Hash::new()),
    }
}

/// The live collection of `kind` at `key`, counted as a hit or a miss: `Ok(None)` if the key
/// is missing, `Err(())` once WRONGTYPE has been replied.
pub fn read(ctx: &mut Ctx<'_>, key: &[u8], kind: Kind) -> Result<Option<Value>, ()> {
    let value = ctx.node.store.get(key, ctx.now);
    match value {
        None => {
            ctx.count_read(false);
            Ok(None)
        }
        Some(value) if value.kind() == Some(kind) => {
            ctx.count_read(true);
            Ok(Some(value))
        }
        Some(_) => {
            ctx.error(errors::WRONGTYPE);
            Err(())
        }
    }
}

/// Changes the collection of `kind` at `key` in place with `change`, which returns its answer
/// and whether it changed anything. A missing key is created (when `create`) from an empty
/// collection, and a collection left empty is deleted, as in Redis. `grow` is the most the
/// change can add (its arguments' bytes and [`ELEMENT_OVERHEAD`] per element): a change that
/// could push the entry past the largest the store holds is refused before it runs.
///
/// `Ok(None)`: the key was missing and not created. `Err(())`: an error (WRONGTYPE, OOM) has
/// been replied.
pub fn write<T>(
    ctx: &mut Ctx<'_>,
    key: &[u8],
    kind: Kind,
    create: bool,
    grow: u64,
    change: &mut dyn FnMut(&mut Body) -> (T, bool),
) -> Result<Option<T>, ()> {
    let max = ctx.node.store.max_entry();
    let mut answer = None;
    let mut wrong_type = false;
    let mut too_large = false;
    let written = ctx.write(key, &mut |live| {
        answer = None;
        wrong_type = false;
        too_large = false;
        let Some(value) = live else {
            if !create {
                return Change::Keep;
            }
            let mut body = empty(kind);
            let (out, _) = change(&mut body);
            answer = Some(out);
            return if body.is_empty() {
                Change::Keep
            } else {
                Change::Put(Value::collection(body, NO_DEADLINE))
            };
        };
        let Some(collection) = value.as_collection().filter(|c| c.kind() == kind) else {
            wrong_type = true;
            return Change::Keep;
        };
        if grow > 0 && key.len() as u64 + collection.weight() + grow > max {
            too_large = true;
            return Change::Keep;
        }
        let (out, changed, empty) = collection.write(|body| {
            let (out, changed) = change(body);
            (out, changed, body.is_empty())
        });
        answer = Some(out);
        if empty {
            Change::Remove
        } else if changed {
            // The same collection, changed in place: put back so the engine re-weighs it and
            // the node stamps the write's version.
            Change::Put(value.clone())
        } else {
            Change::Keep
        }
    });
    if let Err(e) = written {
        ctx.store_error(&e);
        return Err(());
    }
    if wrong_type {
        ctx.error(errors::WRONGTYPE);
        return Err(());
    }
    if too_large {
        ctx.error(errors::OOM);
        return Err(());
    }
    Ok(answer)
}

/// What adding these arguments as elements can cost at most (see [`write`]'s `grow`).
pub fn growth(elements: &[bytes::Bytes]) -> u64 {
    elements
        .iter()
        .map(|element| element.len() as u64 + ELEMENT_OVERHEAD)
        .sum()
}
