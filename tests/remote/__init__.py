"""Tests of remote reruns: job specs, the worker, and jobs through a real OpenSSH sshd."""
