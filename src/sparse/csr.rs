//! A weight matrix compressed per output neuron (CSR over `W [out, in]`):
//! for output `o`, its non-zero weights are `val[ptr[o]..ptr[o + 1]]` on the
//! inputs `idx[ptr[o]..ptr[o + 1]]`.
//!
//! The structure is checked once, when it is built ([`Csr::new`]): row
//! pointers start at 0, never decrease and end at the number of values;
//! indices are in range, strictly increasing within a row (sorted, no
//! duplicates). The kernels then index without bounds checks.

use crate::error::{Error, Result};

/// A validated CSR matrix of `rows` outputs by `cols` inputs.
#[derive(Clone, Debug, PartialEq)]
pub struct Csr {
    rows: usize,
    cols: usize,
    ptr: Vec<usize>,
    idx: Vec<u32>,
    val: Vec<f32>,
}

impl Csr {
    /// Build from raw parts, checking every invariant the kernels rely on.
    /// The error says what is wrong and where (the caller adds the file).
    pub fn new(
        rows: usize,
        cols: usize,
        ptr: Vec<usize>,
        idx: Vec<u32>,
        val: Vec<f32>,
    ) -> Result<Csr> {
        let bad = |m: String| Err(Error::input(m));
        if cols > u32::MAX as usize {
            return bad(format!("{cols} columns do not fit 32-bit indices"));
        }
        if ptr.len() != rows + 1 {
            return bad(format!(
                "{} row pointers for {rows} rows (expected {})",
                ptr.len(),
                rows + 1
            ));
        }
        if idx.len() != val.len() {
            return bad(format!("{} indices but {} values", idx.len(), val.len()));
        }
        if ptr[0] != 0 || ptr[rows] != idx.len() {
            return bad(format!(
                "row pointers run from {} to {}, expected 0 to {}",
                ptr[0],
                ptr[rows],
                idx.len()
            ));
        }
        for r in 0..rows {
            let (s, e) = (ptr[r], ptr[r + 1]);
            if e < s || e > idx.len() {
                return bad(format!("row pointer {} decreases ({s} -> {e})", r + 1));
            }
            let row = &idx[s..e];
            if let Some(&c) = row.iter().find(|&&c| c as usize >= cols) {
                return bad(format!("row {r} has index {c}, outside 0..{cols}"));
            }
            if let Some(w) = row.windows(2).find(|w| w[0] >= w[1]) {
                let what = if w[0] == w[1] {
                    "a duplicate"
                } else {
                    "an unsorted"
                };
                return bad(format!("row {r} has {what} index ({} then {})", w[0], w[1]));
            }
        }
        if let Some(v) = val.iter().find(|v| !v.is_finite()) {
            return bad(format!("a non-finite value ({v})"));
        }
        Ok(Csr {
            rows,
            cols,
            ptr,
            idx,
            val,
        })
    }

    /// The non-zero entries of a dense row-major `[rows, cols]` matrix.
    ///
    /// ```
    /// use parana::sparse::Csr;
    /// let w = [0.0, 2.0, 0.0, 1.0, 0.0, 3.0]; // [2, 3], row-major
    /// let c = Csr::from_dense(&w, 2, 3);
    /// assert_eq!((c.nnz(), c.idx(), c.val()), (3, &[1u32, 0, 2][..], &[2.0f32, 1.0, 3.0][..]));
    /// assert_eq!(c.to_dense(), w);
    /// ```
    pub fn from_dense(w: &[f32], rows: usize, cols: usize) -> Csr {
        assert_eq!(w.len(), rows * cols, "dense matrix has the wrong length");
        assert!(cols <= u32::MAX as usize);
        let mut ptr = Vec::with_capacity(rows + 1);
        let (mut idx, mut val) = (Vec::new(), Vec::new());
        ptr.push(0);
        for row in w.chunks_exact(cols.max(1)).take(rows) {
            for (c, &v) in row.iter().enumerate() {
                if v != 0.0 {
                    idx.push(c as u32);
                    val.push(v);
                }
            }
            ptr.push(idx.len());
        }
        while ptr.len() < rows + 1 {
            ptr.push(idx.len());
        }
        Csr {
            rows,
            cols,
            ptr,
            idx,
            val,
        }
    }

    /// The transposed matrix (`[cols, rows]`, the same stored entries).
    ///
    /// ```
    /// use parana::sparse::Csr;
    /// let w = [0.0, 2.0, 0.0, 1.0, 0.0, 3.0]; // [2, 3]
    /// let t = Csr::from_dense(&w, 2, 3).transpose();
    /// assert_eq!(t.to_dense(), [0.0, 1.0, 2.0, 0.0, 0.0, 3.0]); // [3, 2]
    /// ```
    pub fn transpose(&self) -> Csr {
        let mut ptr = vec![0usize; self.cols + 1];
        for &c in &self.idx {
            ptr[c as usize + 1] += 1;
        }
        for c in 0..self.cols {
            ptr[c + 1] += ptr[c];
        }
        let mut next = ptr.clone();
        let mut idx = vec![0u32; self.idx.len()];
        let mut val = vec![0.0f32; self.val.len()];
        // Rows in order, so each transposed row's indices come out sorted.
        for r in 0..self.rows {
            for j in self.ptr[r]..self.ptr[r + 1] {
                let c = self.idx[j] as usize;
                idx[next[c]] = r as u32;
                val[next[c]] = self.val[j];
                next[c] += 1;
            }
        }
        Csr {
            rows: self.cols,
            cols: self.rows,
            ptr,
            idx,
            val,
        }
    }

    /// The dense row-major `[rows, cols]` matrix.
    pub fn to_dense(&self) -> Vec<f32> {
        let mut w = vec![0.0; self.rows * self.cols];
        for r in 0..self.rows {
            for (c, v) in self.row(r) {
                w[r * self.cols + c] = v;
            }
        }
        w
    }

    /// Outputs (rows).
    pub fn rows(&self) -> usize {
        self.rows
    }
    /// Inputs (columns).
    pub fn cols(&self) -> usize {
        self.cols
    }
    /// Stored (non-zero) weights.
    pub fn nnz(&self) -> usize {
        self.val.len()
    }
    /// Fraction of the matrix stored.
    pub fn density(&self) -> f64 {
        self.nnz() as f64 / (self.rows * self.cols).max(1) as f64
    }
    /// Row pointers (`rows + 1`).
    pub fn ptr(&self) -> &[usize] {
        &self.ptr
    }
    /// Column index of every stored weight.
    pub fn idx(&self) -> &[u32] {
        &self.idx
    }
    /// Every stored weight.
    pub fn val(&self) -> &[f32] {
        &self.val
    }
    /// Every stored weight, to overwrite in place (the structure stays).
    pub(crate) fn val_mut(&mut self) -> &mut [f32] {
        &mut self.val
    }
    /// Number of stored weights in row `r`.
    pub fn row_len(&self, r: usize) -> usize {
        self.ptr[r + 1] - self.ptr[r]
    }
    /// `(column, value)` pairs of row `r`.
    pub fn row(&self, r: usize) -> impl Iterator<Item = (usize, f32)> + '_ {
        let (s, e) = (self.ptr[r], self.ptr[r + 1]);
        self.idx[s..e]
            .iter()
            .zip(&self.val[s..e])
            .map(|(&c, &v)| (c as usize, v))
    }
    /// The matrix with only the stored weights where `keep` (one entry per
    /// stored weight) is true.
    pub fn retain(&self, keep: &[bool]) -> Csr {
        assert_eq!(keep.len(), self.nnz(), "one flag per stored weight");
        let mut ptr = Vec::with_capacity(self.rows + 1);
        let (mut idx, mut val) = (Vec::new(), Vec::new());
        ptr.push(0);
        for w in self.ptr.windows(2) {
            let (s, e) = (w[0], w[1]);
            for ((&i, &v), _) in self.idx[s..e]
                .iter()
                .zip(&self.val[s..e])
                .zip(&keep[s..e])
                .filter(|(_, k)| **k)
            {
                idx.push(i);
                val.push(v);
            }
            ptr.push(idx.len());
        }
        Csr {
            ptr,
            idx,
            val,
            ..*self
        }
    }

    /// The same structure with the stored weights where `keep` is false set
    /// to (stored) zeros: it costs what the unpruned matrix costs and
    /// computes what the pruned one computes.
    pub fn zero_where_not(&self, keep: &[bool]) -> Csr {
        assert_eq!(keep.len(), self.nnz(), "one flag per stored weight");
        let val = self
            .val
            .iter()
            .zip(keep)
            .map(|(&v, &k)| if k { v } else { 0.0 })
            .collect();
        Csr {
            ptr: self.ptr.clone(),
            idx: self.idx.clone(),
            val,
            ..*self
        }
    }

    /// Whether column `c` has no stored weight.
    pub fn empty_cols(&self) -> Vec<bool> {
        let mut empty = vec![true; self.cols];
        for &c in &self.idx {
            empty[c as usize] = false;
        }
        empty
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn dense_round_trip() {
        let w = [0.0, 1.5, 0.0, -2.0, 0.0, 0.0, 3.0, 0.0, 4.0];
        let c = Csr::from_dense(&w, 3, 3);
        assert_eq!(c.ptr(), &[0, 1, 2, 4]);
        assert_eq!(c.idx(), &[1, 0, 0, 2]);
        assert_eq!(c.nnz(), 4);
        assert_eq!(c.to_dense(), w);
        assert_eq!(c.empty_cols(), vec![false, false, false]);
        assert_eq!(Csr::from_dense(&[0.0; 6], 2, 3).empty_cols(), vec![true; 3]);
        let keep = [true, false, false, true];
        assert_eq!(
            c.retain(&keep).to_dense(),
            [0.0, 1.5, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 4.0]
        );
        let z = c.zero_where_not(&keep);
        assert_eq!((z.nnz(), z.to_dense()), (4, c.retain(&keep).to_dense()));
    }

    #[test]
    fn bad_structure_is_rejected_with_a_reason() {
        let ok = || (vec![0, 2, 3], vec![0u32, 2, 1], vec![1.0f32, 2.0, 3.0]);
        assert!(Csr::new(2, 3, ok().0, ok().1, ok().2).is_ok());
        type Case = (Vec<usize>, Vec<u32>, Vec<f32>, &'static str);
        let cases: Vec<Case> = vec![
            (vec![0, 2, 3], vec![0, 3, 1], ok().2, "outside 0..3"),
            (vec![0, 2, 3], vec![2, 0, 1], ok().2, "unsorted"),
            (vec![0, 2, 3], vec![1, 1, 1], ok().2, "duplicate"),
            (vec![0, 2], ok().1, ok().2, "row pointers"),
            (
                vec![0, 2, 3],
                ok().1,
                vec![1.0, 2.0],
                "3 indices but 2 values",
            ),
            (vec![0, 2, 4], ok().1, ok().2, "expected 0 to 3"),
            (vec![1, 2, 3], ok().1, ok().2, "expected 0 to 3"),
            (vec![0, 3, 2, 3], vec![0, 1, 2], ok().2, "decreases"),
            (
                vec![0, 2, 3],
                ok().1,
                vec![1.0, f32::NAN, 3.0],
                "non-finite",
            ),
        ];
        for (p, i, v, want) in cases {
            let rows = p.len().saturating_sub(1).max(2);
            let rows = if p.len() == 4 { 3 } else { rows };
            let e = Csr::new(rows, 3, p.clone(), i, v).unwrap_err().to_string();
            assert!(e.contains(want), "{p:?}: {e}");
        }
    }
}
