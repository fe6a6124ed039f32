// The page's module Worker: serves examples/web/service.mjs over
// postMessage (connectPort on the worker's own global).
import { connectPort } from '/js/browser.mjs'
import { serve } from './service.mjs'

serve(connectPort, self, 'a module Worker')
