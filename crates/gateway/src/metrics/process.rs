//! The `process_*` metrics every Prometheus client library exports, under the same names, read
//! from `/proc` at each scrape. Elsewhere than Linux there is no `/proc` and they are left out.

use prometheus_client::collector::Collector;
use prometheus_client::encoding::{DescriptorEncoder, EncodeMetric};
use prometheus_client::metrics::counter::ConstCounter;
use prometheus_client::metrics::gauge::ConstGauge;
use prometheus_client::registry::Unit;

use crate::convert::count_as_f64;

/// Registered once; reads the process's figures whenever it is encoded.
#[derive(Debug)]
pub(super) struct ProcessCollector;

/// What one scrape reads. A figure `/proc` does not give is left out, not reported as zero.
#[derive(Debug, Default, PartialEq)]
struct Sample {
    cpu_seconds: Option<f64>,
    resident_bytes: Option<u64>,
    virtual_bytes: Option<u64>,
    start_time_seconds: Option<f64>,
    open_fds: Option<u64>,
    max_fds: Option<u64>,
}

/// Clock ticks per second in `/proc/self/stat`: `USER_HZ`, fixed at 100 on every Linux
/// architecture (the Go client's procfs assumes the same).
const USER_HZ: f64 = 100.0;

impl Collector for ProcessCollector {
    fn encode(&self, mut encoder: DescriptorEncoder) -> Result<(), std::fmt::Error> {
        let sample = Sample::read();
        if let Some(seconds) = sample.cpu_seconds {
            let counter = ConstCounter::new(seconds);
            counter.encode(encoder.encode_descriptor(
                "process_cpu",
                "Total user and system CPU time spent in seconds",
                Some(&Unit::Seconds),
                counter.metric_type(),
            )?)?;
        }
        let gauges = [
            (
                "process_resident_memory",
                "Resident memory size in bytes",
                Some(Unit::Bytes),
                sample.resident_bytes.map(count_as_f64),
            ),
            (
                "process_virtual_memory",
                "Virtual memory size in bytes",
                Some(Unit::Bytes),
                sample.virtual_bytes.map(count_as_f64),
            ),
            (
                "process_start_time",
                "Start time of the process since unix epoch in seconds",
                Some(Unit::Seconds),
                sample.start_time_seconds,
            ),
            (
                "process_open_fds",
                "Number of open file descriptors",
                None,
                sample.open_fds.map(count_as_f64),
            ),
            (
                "process_max_fds",
                "Maximum number of open file descriptors",
                None,
                sample.max_fds.map(count_as_f64),
            ),
        ];
        for (name, help, unit, value) in gauges {
            if let Some(value) = value {
                let gauge = ConstGauge::new(value);
                gauge.encode(encoder.encode_descriptor(
                    name,
                    help,
                    unit.as_ref(),
                    gauge.metric_type(),
                )?)?;
            }
        }
        Ok(())
    }
}

impl Sample {
    fn read() -> Sample {
        let read = |path: &str| std::fs::read_to_string(path).ok();
        let mut sample = read("/proc/self/stat")
            .map(|stat| from_stat(&stat, read("/proc/stat").as_deref()))
            .unwrap_or_default();
        if let Some(status) = read("/proc/self/status") {
            sample.resident_bytes = status_kib(&status, "VmRSS:").map(|kib| kib * 1024);
            sample.virtual_bytes = status_kib(&status, "VmSize:").map(|kib| kib * 1024);
        }
        sample.max_fds = read("/proc/self/limits").and_then(|limits| max_open_files(&limits));
        sample.open_fds = std::fs::read_dir("/proc/self/fd")
            .ok()
            .map(|entries| entries.count() as u64);
        sample
    }
}

/// CPU time and start time from `/proc/self/stat`; the start time needs the boot time, the
/// `btime` line of `/proc/stat`.
fn from_stat(stat: &str, system_stat: Option<&str>) -> Sample {
    // The command name (field 2) is in parentheses and may hold spaces or parentheses itself:
    // the fields that follow start after the last `)`, with the state (field 3) first.
    let Some((_, rest)) = stat.rsplit_once(')') else {
        return Sample::default();
    };
    let fields: Vec<&str> = rest.split_whitespace().collect();
    let field = |n: usize| fields.get(n - 3).and_then(|f| f.parse::<u64>().ok());
    let cpu_seconds = field(14)
        .zip(field(15))
        .map(|(user, system)| count_as_f64(user + system) / USER_HZ);
    let boot_time = system_stat.and_then(|text| {
        text.lines()
            .find_map(|line| line.strip_prefix("btime "))
            .and_then(|value| value.trim().parse::<u64>().ok())
    });
    let start_time_seconds = field(22)
        .zip(boot_time)
        .map(|(ticks, boot)| count_as_f64(boot) + count_as_f64(ticks) / USER_HZ);
    Sample {
        cpu_seconds,
        start_time_seconds,
        ..Sample::default()
    }
}

/// A `Key:   1234 kB` line of `/proc/self/status`, in KiB.
fn status_kib(status: &str, key: &str) -> Option<u64> {
    let line = status.lines().find_map(|line| line.strip_prefix(key))?;
    line.split_whitespace().next()?.parse().ok()
}

/// The soft limit of the `Max open files` line of `/proc/self/limits` (`unlimited` is none).
fn max_open_files(limits: &str) -> Option<u64> {
    let line = limits
        .lines()
        .find_map(|line| line.strip_prefix("Max open files"))?;
    line.split_whitespace().next()?.parse().ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_cpu_and_start_time_past_a_name_with_spaces_and_parentheses() {
        // Fields 14/15 (utime/stime) = 250/50 ticks, field 22 (starttime) = 12345 ticks.
        let stat = "42 (my (odd) name) S 1 42 42 0 -1 4194560 100 0 0 0 250 50 0 0 20 0 4 0 \
                    12345 1000000 500 18446744073709551615";
        let sample = from_stat(stat, Some("cpu 1 2 3\nbtime 1700000000\nprocesses 9\n"));
        assert_eq!(sample.cpu_seconds, Some(3.0));
        let start = sample.start_time_seconds.unwrap_or_default();
        assert!((start - 1_700_000_123.45).abs() < 1e-3, "{start}");
        assert_eq!(from_stat("garbage", None), Sample::default());
    }

    #[test]
    fn reads_memory_and_descriptor_limits() {
        let status = "Name:\ttollgate\nVmSize:\t  3892 kB\nVmRSS:\t    2028 kB\n";
        assert_eq!(status_kib(status, "VmRSS:"), Some(2028));
        assert_eq!(status_kib(status, "VmSize:"), Some(3892));
        assert_eq!(status_kib(status, "VmSwap:"), None);
        let limits = "Limit                     Soft Limit           Hard Limit           Units\n\
                      Max open files            20000                524288               files\n";
        assert_eq!(max_open_files(limits), Some(20000));
        assert_eq!(
            max_open_files(
                "Max open files            unlimited            unlimited            files\n"
            ),
            None
        );
    }
}
