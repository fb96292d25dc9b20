package ledger_test

import (
	"go/ast"
	"go/parser"
	"go/token"
	"path/filepath"
	"strings"
	"testing"
)

// TestCryptogramComparesAreConstantTime: no code of the ledger compares a
// TAC or MAC with bytes.Equal, bytes.Compare or ==/!= (which stop at the
// first differing byte and so leak how much of a guess was right); they
// go through a constant-time compare (epurse.VerifyMAC,
// subtle.ConstantTimeCompare). Length checks (len(x.TAC) != n) and nil
// checks are not comparisons of the secret.
func TestCryptogramComparesAreConstantTime(t *testing.T) {
	files, err := filepath.Glob("*.go")
	if err != nil {
		t.Fatal(err)
	}
	fset := token.NewFileSet()
	secret := func(e ast.Expr) bool {
		switch x := e.(type) {
		case *ast.CallExpr: // len(r.TAC)
			if id, ok := x.Fun.(*ast.Ident); ok && id.Name == "len" {
				return false
			}
		case *ast.Ident:
			if x.Name == "nil" {
				return false
			}
		}
		var found bool
		ast.Inspect(e, func(n ast.Node) bool {
			if id, ok := n.(*ast.Ident); ok && (strings.Contains(id.Name, "TAC") || strings.Contains(id.Name, "MAC")) {
				found = true
			}
			return !found
		})
		return found
	}
	checked := 0
	for _, name := range files {
		if strings.HasSuffix(name, "_test.go") {
			continue
		}
		f, err := parser.ParseFile(fset, name, nil, 0)
		if err != nil {
			t.Fatal(err)
		}
		checked++
		ast.Inspect(f, func(n ast.Node) bool {
			switch x := n.(type) {
			case *ast.CallExpr:
				sel, ok := x.Fun.(*ast.SelectorExpr)
				if !ok {
					return true
				}
				pkg, ok := sel.X.(*ast.Ident)
				if !ok || pkg.Name != "bytes" || (sel.Sel.Name != "Equal" && sel.Sel.Name != "Compare") {
					return true
				}
				for _, a := range x.Args {
					if secret(a) {
						t.Errorf("%s: bytes.%s on a cryptogram: use a constant-time compare", fset.Position(x.Pos()), sel.Sel.Name)
					}
				}
			case *ast.BinaryExpr:
				if (x.Op == token.EQL || x.Op == token.NEQ) && (secret(x.X) && secret(x.Y)) {
					t.Errorf("%s: %s on a cryptogram: use a constant-time compare", fset.Position(x.Pos()), x.Op)
				}
			}
			return true
		})
	}
	if checked < 10 {
		t.Fatalf("checked %d files: not the ledger's sources?", checked)
	}
}
