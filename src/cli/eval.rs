//! `parana eval`: accuracy, per-class accuracy and confusion matrix of a
//! model on a dataset split.

use super::{DataOpts, Global, print_json};
use crate::error::{Error, Result};
use crate::model::{eval, file};
use std::path::PathBuf;

/// Evaluate a model on the test (or training) set.
#[derive(clap::Args, Debug)]
#[command(after_help = "Examples:
  parana eval --model lq.safetensors
  parana eval --model lq.safetensors --json")]
pub struct EvalArgs {
    /// Model file.
    #[arg(long)]
    model: PathBuf,
    #[command(flatten)]
    data: DataOpts,
    /// Which split: test or train.
    #[arg(long, default_value = "test")]
    split: String,
    /// Print one JSON object (with `clean_accuracy`) instead of tables.
    #[arg(long)]
    json: bool,
}

pub(super) fn run(a: EvalArgs, _g: Global) -> Result<()> {
    let mut model = file::load(&a.model)?;
    let data = a.data.load(None)?;
    let split = match a.split.as_str() {
        "test" => &data.test,
        "train" => &data.train,
        s => {
            return Err(Error::input(format!(
                "unknown split '{s}' (expected test or train)"
            )));
        }
    };
    if split.image_len() != model.arch.in_len() || data.classes != model.arch.classes {
        return Err(Error::file(
            &a.model,
            format!(
                "model {} does not fit {} ({}x{} images, {} classes)",
                model.arch.describe(),
                data.name,
                split.rows,
                split.cols,
                data.classes
            ),
        ));
    }
    let e = eval::evaluate(&mut model, split);
    if a.json {
        return print_json(&serde_json::json!({
            "model": a.model,
            "dataset": data.name,
            "split": a.split,
            "clean_accuracy": e.accuracy,
            "correct": e.correct,
            "total": e.total,
            "per_class_accuracy": e.per_class,
            "confusion": e.confusion,
        }));
    }
    println!(
        "model     {} ({}, {})",
        a.model.display(),
        model.arch.describe(),
        model.head
    );
    println!("data      {} {} ({} images)", data.name, a.split, e.total);
    println!("accuracy  {:.4} ({} / {})", e.accuracy, e.correct, e.total);
    println!();
    println!("per class:");
    for (c, acc) in e.per_class.iter().enumerate() {
        println!("  {c}: {acc:.4}");
    }
    println!();
    println!("confusion (rows: true class, columns: predicted):");
    let classes = e.confusion.len();
    print!("     ");
    for c in 0..classes {
        print!("{c:>6}");
    }
    println!();
    for (t, row) in e.confusion.iter().enumerate() {
        print!("  {t:>2} ");
        for v in row {
            print!("{v:>6}");
        }
        println!();
    }
    Ok(())
}
