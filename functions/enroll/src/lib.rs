//! autoenroll-enroll
