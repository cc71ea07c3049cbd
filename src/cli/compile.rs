//! `parana compile`: a pruned model into the sparse format, and the sparse
//! part of `parana inspect`.

use super::{Global, print_json};
use crate::error::Result;
use crate::sparse::file;
use crate::tensorfile::TensorFile;
use std::path::{Path, PathBuf};

/// Compile a pruned MLP into a sparse model file (bias consolidation, CSR
/// weights) that `parana eval` runs with the sparse engine.
#[derive(clap::Args, Debug)]
#[command(after_help = "Example:
  parana compile --model pruned.safetensors --out model.sparse.safetensors")]
pub struct CompileArgs {
    /// Pruned model file.
    #[arg(long)]
    model: PathBuf,
    /// Output sparse model file.
    #[arg(long)]
    out: PathBuf,
    /// Print JSON.
    #[arg(long)]
    json: bool,
}

pub(super) fn run(a: CompileArgs, _g: Global) -> Result<()> {
    let model = crate::loader::load(&a.model)?;
    let (f, rep) = file::compile(&model).map_err(|e| match e {
        crate::Error::Input(m) => crate::Error::file(&a.model, m),
        e => e,
    })?;
    f.save(&a.out)?;
    if a.json {
        return print_json(&rep);
    }
    println!("{} -> {}", rep.original, rep.compiled);
    for (i, (n, w)) in rep.nnz.iter().zip(&rep.weights).enumerate() {
        let removed = rep
            .neurons_removed
            .get(i)
            .map_or(String::new(), |r| format!(", {r} neurons removed"));
        println!(
            "layers.{i}: {n} of {w} weights kept ({:.2}% sparse){removed}",
            100.0 * (1.0 - *n as f64 / (*w).max(1) as f64)
        );
    }
    println!("wrote {}", a.out.display());
    Ok(())
}

/// If `path` is a compiled sparse model, describe it and return true.
pub(super) fn inspect_sparse(path: &Path, json: bool) -> Result<bool> {
    let f = TensorFile::load(path)?;
    if !file::is_sparse(&f) {
        return Ok(false);
    }
    let s = file::summary(&f, path)?;
    if json {
        print_json(&s)?;
        return Ok(true);
    }
    let text = |k: &str| s[k].as_str().unwrap_or("").to_string();
    println!("file        {}", path.display());
    println!("format      {} (compiled sparse model)", file::FORMAT);
    println!("arch        {}", text("arch_description"));
    println!("original    {}", text("original_arch"));
    println!("head        {}", s["head"].as_str().unwrap_or(""));
    println!();
    println!(
        "{:<10} {:>12} {:>10} {:>9} {:>7} {:>16}",
        "layer", "shape", "nnz", "sparsity", "engine", "neurons removed"
    );
    for l in s["layers"].as_array().into_iter().flatten() {
        println!(
            "{:<10} {:>12} {:>10} {:>8.2}% {:>7} {:>16}",
            l["name"].as_str().unwrap_or(""),
            format!("{}", l["shape"]),
            l["nnz"].as_u64().unwrap_or(0),
            100.0 * l["sparsity"].as_f64().unwrap_or(0.0),
            l["engine"].as_str().unwrap_or(""),
            l["neurons_removed"].as_u64().unwrap_or(0)
        );
    }
    Ok(true)
}

/// Decouple a CNN: every convolution becomes a sparse matrix (each tap an
/// independent weight), written as a sparse model file that `parana eval`
/// runs with the sparse engine.
#[derive(clap::Args, Debug)]
#[command(after_help = "Example:
  parana decouple --model cnn.safetensors --out cnn.decoupled.safetensors")]
pub struct DecoupleArgs {
    /// CNN model file.
    #[arg(long)]
    model: PathBuf,
    /// Output file (default: MODEL with `.decoupled.safetensors`).
    #[arg(long)]
    out: Option<PathBuf>,
}

pub(super) fn decouple(a: DecoupleArgs, _g: Global) -> Result<()> {
    let model = crate::loader::load(&a.model)?;
    let f = crate::sparse::decouple::decouple(&model)?;
    let out = a.out.unwrap_or_else(|| {
        let stem = a
            .model
            .file_name()
            .and_then(|n| n.to_str())
            .map_or("model", |n| n.strip_suffix(".safetensors").unwrap_or(n));
        a.model
            .with_file_name(format!("{stem}.decoupled.safetensors"))
    });
    f.save(&out)?;
    println!(
        "{} -> {}",
        model.arch.describe(),
        f.meta.get("arch_description").map_or("", String::as_str)
    );
    println!("wrote {}", out.display());
    Ok(())
}
