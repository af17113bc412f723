package failover_test

import (
	"fmt"

	"github.com/tethermq/tether/failover"
)

func ExampleParse() {
	spec, err := failover.Parse("masterslave:(tcp://amq1:61616,tcp://amq2:61616)")
	if err != nil {
		panic(err)
	}
	fmt.Println(spec)
	fmt.Println(spec.Options.Randomize, spec.Options.MaxReconnectAttempts)

	spec, err = failover.Parse("failover:(tcp://a:61616,tcp://b:61616)?initialReconnectDelay=100&nested.keepAlive=false")
	if err != nil {
		panic(err)
	}
	for _, b := range spec.Brokers {
		fmt.Println(b)
	}
	fmt.Println(spec.Options.InitialReconnectDelay)

	_, err = failover.Parse("failover:(tcp://a:61616)?backOffMultiplier=2")
	fmt.Println(err)
	// Output:
	// failover:(tcp://amq1:61616,tcp://amq2:61616)?randomize=false&maxReconnectAttempts=0
	// false 0
	// tcp://a:61616?keepAlive=false
	// tcp://b:61616?keepAlive=false
	// 100ms
	// invalid connection URI "failover:(tcp://a:61616)?backOffMultiplier=2": option "backOffMultiplier": not supported: not a failover: option in ActiveMQ either (it belongs to static:); use reconnectDelayExponent
}
