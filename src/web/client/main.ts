// Entry of the dashboard bundle (built by scripts/build-web.ts into dist/web, served by apigw at /).
import 'uplot/dist/uPlot.min.css'
import './style.css'
import { Shell } from './app.js'
import { fleetView } from './fleet.js'
import { gpuView } from './gpu.js'
import { hostView } from './host.js'

new Shell({ fleet: fleetView, gpu: gpuView, host: hostView }).start()
