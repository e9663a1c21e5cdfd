import FlinkletCLI

await Flinklet.runMain()
