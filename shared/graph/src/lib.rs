//! Microsoft Graph client for autoenroll: the only code that talks to Graph or to the Entra
//! token endpoint. See ARCHITECTURE.md for the contract other crates rely on.

pub mod model;
