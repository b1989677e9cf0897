package torchfile

import (
	"fmt"
	"strconv"
)

// flattener walks the unpickled dict and names its tensors (see the package
// documentation for the rule).
type flattener struct {
	out     []named
	skipped []string
	seen    map[string]bool
	visited map[any]bool
	budget  int64 // values still allowed
}

type named struct {
	name string
	t    *tensor
}

// maxSkipped bounds File.Skipped.
const maxSkipped = 1000

// visit names v, reached under name at the given nesting depth.
func (fl *flattener) visit(name string, v any, depth int) error {
	if depth > maxDepth {
		return fmt.Errorf("%q is nested more than %d deep", printable(name), maxDepth)
	}
	switch v := v.(type) {
	case *tensor:
		return fl.add(name, v)
	case *dict:
		if err := fl.enter(name, v); err != nil {
			return err
		}
		for _, k := range v.keys {
			if err := fl.visit(join(name, k), v.vals[k], depth+1); err != nil {
				return err
			}
		}
	case *list:
		return fl.sequence(name, v, v.items, depth)
	case *tuple:
		return fl.sequence(name, v, v.items, depth)
	default:
		if len(fl.skipped) < maxSkipped {
			fl.skipped = append(fl.skipped, name)
		}
	}
	return nil
}

// sequence names the elements of a list or tuple by index.
func (fl *flattener) sequence(name string, c any, items []any, depth int) error {
	if err := fl.enter(name, c); err != nil {
		return err
	}
	for i, it := range items {
		if err := fl.visit(join(name, strconv.Itoa(i)), it, depth+1); err != nil {
			return err
		}
	}
	return nil
}

// enter refuses a container reached twice (a memo cycle or shared sub-dict, which
// a state dict never has and which could make the walk unbounded).
func (fl *flattener) enter(name string, c any) error {
	if fl.visited == nil {
		fl.visited = map[any]bool{}
	}
	if fl.visited[c] {
		return fmt.Errorf("%q is a container the pickle already used elsewhere", printable(name))
	}
	fl.visited[c] = true
	return nil
}

func (fl *flattener) add(name string, t *tensor) error {
	if name == "" {
		return fmt.Errorf("tensor has an empty name")
	}
	if fl.seen[name] {
		return fmt.Errorf("two tensors flatten to the name %q", printable(name))
	}
	fl.seen[name] = true
	fl.budget -= t.numel
	if fl.budget < 0 {
		return fmt.Errorf("tensors hold more values than a file of this size can (at %q)", printable(name))
	}
	fl.out = append(fl.out, named{name, t})
	return nil
}

func join(prefix, key string) string {
	if prefix == "" {
		return key
	}
	return prefix + "." + key
}
