pub use netpark_runtime::*;
