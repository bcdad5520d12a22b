//! Which models are offered for chat, in what order, and why the others are not: the
//! selection, the default and the fast default.

use serde::Serialize;

use crate::catalog::model::Model;

/// The `capabilities.type` of chat models.
const CHAT_KIND: &str = "chat";

/// Chooses the models offered for chat, in the order to show them.
///
/// 1. Keep chat models: `capabilities.type == "chat"`, or type absent and the model has a chat
///    endpoint (an absent `supported_endpoints` counts as `/chat/completions`); embeddings and
///    completion models always state their type, so an untyped entry is a chat model in
///    practice.
/// 2. Drop models whose policy is `disabled`, and models with no chat endpoint.
/// 3. Drop repeated ids; the first usable entry wins.
/// 4. Prefer models the server shows in its picker (`model_picker_enabled` true or absent). If
///    none is, keep the policy-enabled ones (policy absent or `enabled`): catalogs have been
///    seen marking every model hidden, and the account's usable models must still show.
/// 5. The `is_chat_default` model first, the rest in server order.
pub fn select(models: Vec<Model>) -> Vec<Model> {
    select_with_report(models).0
}

/// Why the catalog shows fewer models than the server listed: for `doctor`, which is what a
/// user runs when models are missing.
#[derive(Clone, Debug, Default, Serialize, PartialEq, Eq)]
pub struct Selection {
    /// Entries the server listed (after unreadable ones were skipped).
    pub listed: usize,
    /// Models offered.
    pub shown: usize,
    /// The rest, grouped by the reason they are not offered.
    pub hidden: Vec<HiddenGroup>,
}

/// Models left out for one reason.
#[derive(Clone, Debug, Serialize, PartialEq, Eq)]
pub struct HiddenGroup {
    pub reason: String,
    pub ids: Vec<String>,
}

impl Selection {
    fn hide(&mut self, reason: &str, id: &str) {
        match self.hidden.iter_mut().find(|g| g.reason == reason) {
            Some(group) => group.ids.push(id.to_string()),
            None => self.hidden.push(HiddenGroup { reason: reason.to_string(), ids: vec![id.to_string()] }),
        }
    }
}

/// [`select`], saying what it left out and why.
pub fn select_with_report(models: Vec<Model>) -> (Vec<Model>, Selection) {
    let mut report = Selection { listed: models.len(), ..Selection::default() };
    let mut usable = Vec::with_capacity(models.len());
    for m in models {
        match unusable_reason(&m) {
            Some(reason) => report.hide(reason, &m.id),
            None => usable.push(m),
        }
    }
    let mut seen = std::collections::HashSet::with_capacity(usable.len());
    let mut unique = Vec::with_capacity(usable.len());
    for m in usable {
        if seen.insert(m.id.clone()) {
            unique.push(m);
        } else {
            report.hide("listed twice (the first entry is used)", &m.id);
        }
    }
    let (visible, hidden): (Vec<Model>, Vec<Model>) = unique
        .into_iter()
        .partition(|m| m.picker_enabled != Some(false));
    let chosen = if visible.is_empty() {
        let (enabled, not_enabled): (Vec<Model>, Vec<Model>) =
            hidden.into_iter().partition(Model::policy_enabled);
        for m in &not_enabled {
            report.hide("marked hidden by the server and its policy is not enabled", &m.id);
        }
        enabled
    } else {
        for m in &hidden {
            report.hide("marked hidden from the model picker by the server", &m.id);
        }
        visible
    };
    report.shown = chosen.len();
    (default_first(chosen), report)
}

/// Why a model cannot be offered for chat at all, if it cannot.
fn unusable_reason(m: &Model) -> Option<&'static str> {
    if !m.kind.as_deref().is_none_or(|k| k.eq_ignore_ascii_case(CHAT_KIND)) {
        Some("not a chat model (embeddings or completions)")
    } else if m.policy_disabled() {
        Some("disabled by the account's policy")
    } else if m.endpoint().is_none() {
        Some("speaks no endpoint this provider supports")
    } else {
        None
    }
}



fn default_first(mut models: Vec<Model>) -> Vec<Model> {
    if let Some(pos) = models.iter().position(|m| m.is_chat_default) {
        let default = models.remove(pos);
        models.insert(0, default);
    }
    models
}

/// The model used when the user has not picked one: the `is_chat_default` model, else the
/// first.
pub fn default_model(models: &[Model]) -> Option<&Model> {
    models
        .iter()
        .find(|m| m.is_chat_default)
        .or_else(|| models.first())
}

/// The fast default (for summaries, titles, quick edits):
///
/// 1. the `is_chat_fallback` model (Copilot's base model, free on every plan);
/// 2. else, among models that carry billing data, the cheapest: non-premium before unknown
///    before premium, then the lowest multiplier, then small-looking names, then server order.
///    Models without billing data never win this step by default;
/// 3. else (enterprise catalogs carry no billing) the first model whose id, name or family has
///    the word mini, nano, flash or haiku;
/// 4. else none: nothing in the catalog says which model is fast.
pub fn fast_model(models: &[Model]) -> Option<&Model> {
    if let Some(m) = models.iter().find(|m| m.is_chat_fallback) {
        return Some(m);
    }
    let cheapest = models.iter().filter(|m| m.has_billing()).min_by(|a, b| {
        premium_rank(a)
            .cmp(&premium_rank(b))
            .then(cost(a).total_cmp(&cost(b)))
            .then(b.looks_small().cmp(&a.looks_small()))
    });
    cheapest.or_else(|| models.iter().find(|m| m.looks_small()))
}

fn premium_rank(m: &Model) -> u8 {
    match m.is_premium {
        Some(false) => 0,
        None => 1,
        Some(true) => 2,
    }
}

fn cost(m: &Model) -> f64 {
    m.multiplier.unwrap_or(f64::INFINITY)
}

/// Finds a model by exact id.
pub fn find<'a>(models: &'a [Model], id: &str) -> Option<&'a Model> {
    models.iter().find(|m| m.id == id)
}
