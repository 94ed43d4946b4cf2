//! The article's runbooks, one module per tier. A tier is a list of steps an operator would type
//! plus the expectations each step's output is checked against.

pub mod vault;
