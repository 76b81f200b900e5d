"""Remote reruns over SSH: the job spec, the remote worker, the asyncssh client and its errors."""
