module github.com/rampart-edge/rampart/controlsvc/api

go 1.26
