//! Pairing parts of an updated object with the same parts of the stored
//! object, as apiserver's `CorrelatedObject` does for ratcheting and CEL's
//! `oldSelf`: object fields by name, items of `x-kubernetes-list-type: map`
//! lists by their key fields, items of `set` lists by value. Items of atomic
//! lists have no counterpart.

use serde_json::Value;

use crate::model::{ListType, Node};

/// The old value of field (or map key) `key` of an object.
pub(crate) fn old_field<'a>(key: &str, old_object: Option<&'a Value>) -> Option<&'a Value> {
    old_object?.as_object()?.get(key)
}

/// The old counterpart of `item`, an element of a list described by
/// `list_schema`, looked up in `old_list` (map lists by key, sets by value).
pub(crate) fn old_item<'a>(
    list_schema: &Node,
    item: &Value,
    old_list: Option<&'a Value>,
) -> Option<&'a Value> {
    if list_schema.list_type == Some(ListType::Set) {
        return old_list?.as_array()?.iter().find(|o| *o == item);
    }
    old_map_list_item(list_schema, item, old_list)
}

/// The old counterpart of `item` in a `list-type: map` list only; CEL's
/// `oldSelf` is bound for these items and no others.
pub(crate) fn old_map_list_item<'a>(
    list_schema: &Node,
    item: &Value,
    old_list: Option<&'a Value>,
) -> Option<&'a Value> {
    let old_items = old_list?.as_array()?;
    match list_schema.list_type? {
        ListType::Map => {
            let keys = &list_schema.list_map_keys;
            if keys.is_empty() {
                return None;
            }
            let key_of = |v: &Value| -> Option<Vec<Option<Value>>> {
                let obj = v.as_object()?;
                Some(keys.iter().map(|k| obj.get(k).cloned()).collect())
            };
            let wanted = key_of(item)?;
            old_items
                .iter()
                .find(|o| key_of(o).as_ref() == Some(&wanted))
        }
        ListType::Set | ListType::Atomic => None,
    }
}
