package loadgen

import (
	"bufio"
	"bytes"
	"fmt"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"strconv"
	"strings"
)

// What the load costs, read from Linux's /proc: the CPU seconds of the
// server, of this process and of PostgreSQL, and the server's memory.
// Elsewhere the readings are absent (reported as unknown), never guessed.

// clockTicks is USER_HZ, the unit of /proc/PID/stat's times: 100 on every
// Linux architecture Go supports.
const clockTicks = 100

// procTimes returns a process's CPU seconds (user + system) and those of
// its children it has waited for.
func procTimes(pid int) (own, children float64, err error) {
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
	if err != nil {
		return 0, 0, err
	}
	// The command name (field 2) may hold spaces; fields after it start at ')'.
	i := bytes.LastIndexByte(b, ')')
	if i < 0 {
		return 0, 0, fmt.Errorf("/proc/%d/stat: unexpected format", pid)
	}
	f := strings.Fields(string(b[i+1:]))
	if len(f) < 15 {
		return 0, 0, fmt.Errorf("/proc/%d/stat: unexpected format", pid)
	}
	n := make([]float64, 4) // utime, stime, cutime, cstime: fields 14-17
	for k := range n {
		v, err := strconv.ParseFloat(f[11+k], 64)
		if err != nil {
			return 0, 0, fmt.Errorf("/proc/%d/stat: %w", pid, err)
		}
		n[k] = v / clockTicks
	}
	return n[0] + n[1], n[2] + n[3], nil
}

// processCPU returns the CPU seconds pid has used (-1 when unknown).
func processCPU(pid int) float64 {
	if pid <= 0 {
		return -1
	}
	own, _, err := procTimes(pid)
	if err != nil {
		return -1
	}
	return own
}

// postgresCPU returns the CPU seconds of every PostgreSQL process on this
// machine: each live one, plus what the postmasters collected from
// backends that have exited (-1 when none is found).
func postgresCPU() float64 {
	pids, _ := filepath.Glob("/proc/[0-9]*")
	total, found := 0.0, false
	for _, dir := range pids {
		pid, err := strconv.Atoi(filepath.Base(dir))
		if err != nil || comm(pid) != "postgres" {
			continue
		}
		own, children, err := procTimes(pid)
		if err != nil {
			continue
		}
		found = true
		total += own
		if comm(parent(pid)) != "postgres" { // a postmaster
			total += children
		}
	}
	if !found {
		return -1
	}
	return total
}

func comm(pid int) string {
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/comm", pid))
	if err != nil {
		return ""
	}
	return strings.TrimSpace(string(b))
}

func parent(pid int) int {
	return statusField(pid, "PPid")
}

// statusField reads a number of /proc/PID/status (kB for memory).
func statusField(pid int, name string) int {
	f, err := os.Open(fmt.Sprintf("/proc/%d/status", pid))
	if err != nil {
		return 0
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		k, v, ok := strings.Cut(sc.Text(), ":")
		if ok && k == name {
			n, _ := strconv.Atoi(strings.Fields(v + " 0")[0])
			return n
		}
	}
	return 0
}

// rss returns a process's resident memory and its peak, in bytes.
func rss(pid int) (now, peak int64) {
	if pid <= 0 {
		return 0, 0
	}
	return int64(statusField(pid, "VmRSS")) << 10, int64(statusField(pid, "VmHWM")) << 10
}

// listenerPID finds the process listening on TCP port (on any address)
// through /proc/net/tcp{,6} and the processes' socket descriptors; 0 when
// it is not found (another user's process, or not Linux).
func listenerPID(port int) int {
	inodes := map[string]bool{}
	for _, file := range []string{"/proc/net/tcp", "/proc/net/tcp6"} {
		b, err := os.ReadFile(file)
		if err != nil {
			continue
		}
		for _, line := range strings.Split(string(b), "\n")[1:] {
			f := strings.Fields(line)
			if len(f) < 10 || f[3] != "0A" { // 0A: LISTEN
				continue
			}
			_, hexPort, _ := strings.Cut(f[1], ":")
			if p, err := strconv.ParseInt(hexPort, 16, 32); err == nil && int(p) == port {
				inodes["socket:["+f[9]+"]"] = true
			}
		}
	}
	if len(inodes) == 0 {
		return 0
	}
	fds, _ := filepath.Glob("/proc/[0-9]*/fd/*")
	for _, fd := range fds {
		if link, err := os.Readlink(fd); err == nil && inodes[link] {
			pid, _ := strconv.Atoi(strings.Split(fd, "/")[2])
			return pid
		}
	}
	return 0
}

// readAll reads a response body in full and leaves a copy in its place.
func readAll(res *http.Response) ([]byte, error) {
	b, err := io.ReadAll(res.Body)
	res.Body.Close()
	res.Body = io.NopCloser(bytes.NewReader(b))
	return b, err
}
