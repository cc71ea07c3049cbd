//! `parana inspect`: what a model file holds.

use super::{Global, print_json};
use crate::error::Result;
use crate::loader;
use std::path::PathBuf;

/// Show a model file's architecture, parameters, sparsity and metadata.
#[derive(clap::Args, Debug)]
#[command(after_help = "Example:\n  parana inspect --model lq.safetensors")]
pub struct InspectArgs {
    /// Model file.
    #[arg(long)]
    model: PathBuf,
    /// Print JSON.
    #[arg(long)]
    json: bool,
}

pub(super) fn run(a: InspectArgs, _g: Global) -> Result<()> {
    if super::compile::inspect_sparse(&a.model, a.json)? {
        return Ok(());
    }
    let model = loader::load(&a.model)?;
    let tensors: Vec<serde_json::Value> = model
        .named_params()
        .map(|(name, p)| {
            let zeros = p.value.iter().filter(|&&v| v == 0.0).count();
            serde_json::json!({
                "name": name,
                "shape": p.shape,
                "count": p.len(),
                "zeros": zeros,
                "sparsity": if p.is_empty() { 0.0 } else { zeros as f64 / p.len() as f64 },
            })
        })
        .collect();
    let total = model.param_count();
    let zeros: usize = model
        .net
        .params()
        .map(|p| p.value.iter().filter(|&&v| v == 0.0).count())
        .sum();
    if a.json {
        return print_json(&serde_json::json!({
            "file": a.model,
            "arch": model.arch,
            "arch_description": model.describe(),
            "head": model.head,
            "parameters": total,
            "zeros": zeros,
            "tensors": tensors,
            "metadata": model.meta,
        }));
    }
    println!("file        {}", a.model.display());
    println!("arch        {}", model.describe());
    println!("head        {}", model.head);
    println!(
        "parameters  {total} ({zeros} zero, {:.2}% sparse)",
        100.0 * zeros as f64 / total.max(1) as f64
    );
    println!();
    println!(
        "{:<20} {:>18} {:>10} {:>9}",
        "tensor", "shape", "count", "sparsity"
    );
    for t in &tensors {
        println!(
            "{:<20} {:>18} {:>10} {:>8.2}%",
            t["name"].as_str().unwrap_or(""),
            format!("{}", t["shape"]),
            t["count"].as_u64().unwrap_or(0),
            100.0 * t["sparsity"].as_f64().unwrap_or(0.0)
        );
    }
    if !model.meta.is_empty() {
        println!();
        println!("metadata:");
        for (k, v) in &model.meta {
            println!("  {k}: {v}");
        }
    }
    Ok(())
}
