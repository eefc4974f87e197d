//! FZ-07: the spool record decoder takes torn or corrupt bytes without panicking, never reads
//! past what it was given, and a record it returns encodes back to one that decodes the same.
#![no_main]

use libfuzzer_sys::fuzz_target;
use tollgate_gateway::logs::SpoolRecord;

fuzz_target!(|data: &[u8]| {
    let Some((record, used)) = SpoolRecord::decode(data) else {
        return;
    };
    assert!(used >= 8 && used <= data.len());
    let mut encoded = Vec::new();
    if record.encode_into(&mut encoded).is_ok() {
        let again = SpoolRecord::decode(&encoded).map(|(record, used)| (record, used));
        assert_eq!(again, Some((record, encoded.len())));
    }
});
