package main

import (
	"go/ast"
	"go/parser"
	"go/token"
	"io/fs"
	"path/filepath"
	"strings"
	"testing"
)

// maxFuncLines is the longest a function may be, from its func line to its brace.
const maxFuncLines = 80

// TestStyle walks every Go file of the repository: no function is longer than
// maxFuncLines, and every exported name outside tests has a doc comment.
func TestStyle(t *testing.T) {
	fset := token.NewFileSet()
	err := filepath.WalkDir(".", func(path string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if d.IsDir() && (d.Name() == "testdata" || strings.HasPrefix(d.Name(), ".")) && path != "." {
			return filepath.SkipDir
		}
		if d.IsDir() || !strings.HasSuffix(path, ".go") {
			return nil
		}
		f, err := parser.ParseFile(fset, path, nil, parser.ParseComments)
		if err != nil {
			return err
		}
		checkFile(t, fset, f, strings.HasSuffix(path, "_test.go"))
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
}

// checkFile reports the long functions of f and, unless test, its exported names
// without a doc comment.
func checkFile(t *testing.T, fset *token.FileSet, f *ast.File, test bool) {
	for _, d := range f.Decls {
		switch d := d.(type) {
		case *ast.FuncDecl:
			if n := fset.Position(d.End()).Line - fset.Position(d.Pos()).Line + 1; n > maxFuncLines {
				t.Errorf("%s: %s is %d lines (at most %d)", fset.Position(d.Pos()), d.Name.Name, n, maxFuncLines)
			}
			if !test && d.Name.IsExported() && d.Doc == nil {
				t.Errorf("%s: %s has no doc comment", fset.Position(d.Pos()), d.Name.Name)
			}
		case *ast.GenDecl:
			if !test {
				checkSpecs(t, fset, d)
			}
		}
	}
}

// checkSpecs reports the exported types, constants and variables of d without a
// doc comment (on the spec, its group, or at the end of its line).
func checkSpecs(t *testing.T, fset *token.FileSet, d *ast.GenDecl) {
	for _, s := range d.Specs {
		switch s := s.(type) {
		case *ast.TypeSpec:
			if s.Name.IsExported() && d.Doc == nil && s.Doc == nil {
				t.Errorf("%s: type %s has no doc comment", fset.Position(s.Pos()), s.Name.Name)
			}
		case *ast.ValueSpec:
			for _, n := range s.Names {
				if n.IsExported() && d.Doc == nil && s.Doc == nil && s.Comment == nil {
					t.Errorf("%s: %s has no doc comment", fset.Position(n.Pos()), n.Name)
				}
			}
		}
	}
}
