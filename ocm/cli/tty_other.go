//go:build !unix

package cli

import "os"

// ttyWidth is 0: the width is $COLUMNS or 80 where ocm cannot ask the terminal.
func ttyWidth(*os.File) int { return 0 }
