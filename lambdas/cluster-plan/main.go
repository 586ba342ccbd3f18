// Command cluster-plan plans an Update (scale to the new HsmCount) or a Delete.
package main

import (
	"github.com/strongroom/strongroom/pkg/hsmcluster"
	"github.com/strongroom/strongroom/pkg/lambdaenv"
)

func main() {
	log := lambdaenv.Logger("cluster-plan")
	lambdaenv.Start("cluster-plan", log, hsmcluster.PlanRequest{}.Handle)
}
