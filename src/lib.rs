//! Examples and benchmarks of the murgan workspace.
