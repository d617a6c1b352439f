// Reads "a<TAB>b" lines (Go module versions without the "v"); prints -1, 0, 1, or "invalid" per line, using
// golang.org/x/mod/semver, the ordering the go command uses.
package main

import (
	"bufio"
	"fmt"
	"os"
	"strings"

	"golang.org/x/mod/semver"
)

func main() {
	in := bufio.NewScanner(os.Stdin)
	in.Buffer(make([]byte, 1<<20), 1<<20)
	out := bufio.NewWriter(os.Stdout)
	defer out.Flush()
	for in.Scan() {
		parts := strings.SplitN(in.Text(), "\t", 2)
		a, b := "v"+parts[0], "v"+parts[1]
		if !semver.IsValid(a) || !semver.IsValid(b) {
			fmt.Fprintln(out, "invalid")
			continue
		}
		fmt.Fprintln(out, semver.Compare(a, b))
	}
}
