package wasmrt_test

import (
	"context"
	"fmt"
	"testing/fstest"

	"github.com/compadre-dev/compadre/wasmrt"
)

func ExampleRuntime_Run() {
	res, err := sandbox.Run(context.Background(), wasmrt.Invocation{
		Files:      fstest.MapFS{"main.py": {Data: []byte("import os\nprint(6 * 7, os.environ['WHO'])\n")}},
		Entrypoint: "main.py",
		Env:        map[string]string{"WHO": "guest"},
	})
	fmt.Printf("%s%v\n", res.Stdout, err)
	// Output:
	// 42 guest
	// <nil>
}

func ExampleRuntime_RunTool() {
	res, err := sandbox.RunTool(context.Background(), wasmrt.ToolCall{
		Files:      fstest.MapFS{"greet.py": {Data: []byte("def run(name: str):\n    return {'greeting': 'hello ' + name}\n")}},
		Entrypoint: "greet:run",
		Input:      []byte(`{"name": "Ada"}`),
		Mode:       "regular",
	})
	fmt.Println(res.Output, err)
	// Output: {"greeting": "hello Ada"} <nil>
}
