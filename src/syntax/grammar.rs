//! The pest parser generated from `grammar/vns3.pest`. Its `Rule` and `Pair` types stay inside
//! `syntax/`; lower.rs turns the pairs into AST nodes.

use pest_derive::Parser;

#[derive(Parser)]
#[grammar = "../grammar/vns3.pest"]
pub(super) struct Vns3Parser;
