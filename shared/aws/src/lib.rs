//! autoenroll-aws
