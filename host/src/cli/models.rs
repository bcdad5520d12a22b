//! The `models` command: the provider's models as a table, or as JSON with their details.

use serde_json::Value;

use copilot_host::output::models_table;
use copilot_host::Extension;

use crate::cli::details::model_json_with_details;
use crate::cli::exit::guest_error;

/// Runs `models`: the table, or `--json` with each model's details.
pub fn run(ext: &Extension, json: bool, refresh: bool) -> anyhow::Result<()> {
    let provider = ext.default_provider()?;
    let models = if refresh { ext.refresh_models(&provider)? } else { ext.models(&provider)? };
    let models = models.map_err(|e| guest_error(&e))?;
    if json {
        let details = ext.details(&provider)?;
        let array: Vec<Value> = models
            .iter()
            .map(|m| model_json_with_details(m, details.as_ref()))
            .collect();
        println!("{}", serde_json::to_string_pretty(&array)?);
    } else if models.is_empty() {
        println!("No models are available to this account.");
    } else {
        print!("{}", models_table(&models));
    }
    Ok(())
}
