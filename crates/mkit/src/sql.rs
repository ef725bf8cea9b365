//! Parameterised SQL for D1: the kernel's (`mkit_kernel::sql`), under the path sellers use.

pub use mkit_kernel::sql::*;
